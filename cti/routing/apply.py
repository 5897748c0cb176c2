"""Apply a rendered include to a running Asterisk, and undo it if anything goes wrong.

render -> lint -> write atomically into the configuration folder -> AMI ``Reload
pbx_config`` -> ``ShowDialPlan`` and compare with what was rendered. The county queues
(``queues_counties.conf``, ``cti.routing.queues``) go with it when given: checked before
anything is written, written only when their text changed, then ``Reload Module:
app_queue.so`` and ``QueueSummary`` must list every county queue. app_queue's reload
returns success whatever the file holds (its ``reload()`` returns 0), hence the
read-back. On any failure after the write, the previous files are put back
(atomically), the dialplan (and app_queue, if its file was written) is reloaded again
and the error is reported: the hotline keeps the last good routing.

Why the read-back: pbx_config answers a reload with "Module Reloaded" even when it
skipped lines it could not parse (it only logs a warning), and another process may have
replaced the file between our write and the reload. The live dialplan is the truth.

I/O is injected: ``open_ami`` returns an async context manager giving an object with
``reload(module)`` and ``show_dialplan()`` (``cti.routing.ami_client.RoutingAmi`` in
production, a small AMI server in the tests); ``lint`` is a function.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import Callable, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cti.ami.protocol import AmiMessage
from cti.routing.ami_client import AmiError
from cti.routing.dialplan import (
    Dialplan,
    DialplanTextError,
    first_difference,
    from_show_dialplan,
    from_text,
)
from cti.routing.lint import LintResult
from cti.routing.lint import lint as asterisklint
from cti.routing.queues import FILENAME as QUEUES_FILENAME
from cti.routing.queues import MAIN_FILE as QUEUES_MAIN_FILE
from cti.routing.queues import check_main, check_queues, main_templates
from cti.routing.render import COUNTY_CONTEXT_PREFIX, FILENAME, ROUTING_CONTEXT

DIALPLAN_MODULE = "pbx_config"
#: ast_module_reload matches the name with or without ".so" (main/loader.c).
QUEUE_MODULE = "app_queue.so"


class DialplanAmi(Protocol):
    async def reload(self, module: str) -> None: ...
    async def show_dialplan(self, context: str | None = None) -> list[AmiMessage]: ...
    async def queue_summary(self) -> frozenset[str]: ...


@dataclass(frozen=True, slots=True)
class QueuesPlan:
    """The rendered ``queues_counties.conf`` and the queue names it must define."""

    text: str
    queues: frozenset[str]


AmiOpener = Callable[[], AbstractAsyncContextManager[DialplanAmi]]
Linter = Callable[[str, Path], LintResult]


@dataclass(slots=True)
class ApplyOutcome:
    ok: bool
    lint: LintResult
    error: str | None = None
    #: After a failure past the write: was the previous file put back and reloaded?
    restored: bool | None = None
    steps: list[str] = field(default_factory=list)
    #: The county-queues file differed from the one on disk (so it was written/reloaded).
    queues_changed: bool = False


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` so that a reader sees the old or the new file, never
    a part: write a temporary file in the same folder, fsync it, rename it over the
    target, fsync the folder."""
    folder = path.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _ours(context: str) -> bool:
    return (
        context == ROUTING_CONTEXT
        or context.startswith(f"{ROUTING_CONTEXT}-")
        or context.startswith(COUNTY_CONTEXT_PREFIX)
    )


def verify(expected: Dialplan, live: Iterable[AmiMessage]) -> str | None:
    """The first difference between ``expected`` (``from_text`` of the rendered file) and
    the live ``ListDialplan`` items, or ``None`` when they agree on everything
    ``ShowDialPlan`` reports, which is everything the routing decides on: contexts,
    extensions (caller prefixes are extension names) in Asterisk's order, priorities,
    labels, applications, their data, includes in order, and no other item in our
    contexts (see ``cti.routing.dialplan``). Live contexts looked at: those the file
    defines and any other named like ours."""
    return first_difference(
        expected, from_show_dialplan(live, lambda name: name in expected or _ours(name))
    )


async def _reload_and_verify(
    open_ami: AmiOpener, expected: Dialplan, queues: frozenset[str] | None
) -> None:
    async with open_ami() as ami:
        await ami.reload(DIALPLAN_MODULE)
        live = await ami.show_dialplan()
        problem = verify(expected, live)
        if problem:
            raise AmiError(f"the live dialplan is not the rendered one: {problem}")
        if queues is not None:
            await ami.reload(QUEUE_MODULE)
            missing = sorted(queues - await ami.queue_summary())
            if missing:
                raise AmiError(f"app_queue did not load the county queues {missing}")


async def apply_text(
    text: str,
    conf_dir: Path,
    open_ami: AmiOpener,
    *,
    lint: Linter = asterisklint,
    lint_result: LintResult | None = None,
    queues: QueuesPlan | None = None,
) -> ApplyOutcome:
    """Lint, write, reload, verify; restore the previous files on failure."""
    result = lint_result or await asyncio.to_thread(lint, text, conf_dir)
    outcome = ApplyOutcome(ok=False, lint=result)
    if not result.ok:
        outcome.error = "asterisklint refused the rendered dialplan; nothing was written"
        outcome.steps.append("lint failed")
        return outcome
    outcome.steps.append("lint ok")
    try:
        expected = from_text(text)
    except DialplanTextError as exc:
        outcome.error = f"cannot verify the rendered dialplan ({exc}); nothing was written"
        outcome.steps.append("read-back model failed")
        return outcome
    queues_path = conf_dir / QUEUES_FILENAME
    queues_previous = queues_path.read_bytes() if queues_path.exists() else None
    if queues is not None:
        main = conf_dir / QUEUES_MAIN_FILE
        main_text = main.read_text(encoding="utf-8") if main.is_file() else ""
        problems = check_main(main_text) + check_queues(
            queues.text, queues.queues, main_templates(conf_dir)
        )
        if problems:
            outcome.error = f"the county queues were refused ({'; '.join(problems)}); " + (
                "nothing was written"
            )
            outcome.steps.append("queues check failed")
            return outcome
        outcome.steps.append("queues check ok")
        outcome.queues_changed = queues_previous != queues.text.encode()
    path = conf_dir / FILENAME
    previous = path.read_bytes() if path.exists() else None
    written: list[tuple[Path, bytes | None]] = []
    try:
        await asyncio.to_thread(write_atomic, path, text.encode())
        written.append((path, previous))
        outcome.steps.append(f"wrote {path}")
        if queues is not None and outcome.queues_changed:
            await asyncio.to_thread(write_atomic, queues_path, queues.text.encode())
            written.append((queues_path, queues_previous))
            outcome.steps.append(f"wrote {queues_path}")
    except OSError as exc:
        outcome.error = f"could not write the configuration: {exc}"
        if written:
            outcome.restored = await _restore(written, open_ami, outcome)
        return outcome
    try:
        await _reload_and_verify(
            open_ami, expected, queues.queues if queues and outcome.queues_changed else None
        )
    except (AmiError, OSError) as exc:
        outcome.error = str(exc)
        outcome.steps.append(f"failed: {exc}")
        outcome.restored = await _restore(written, open_ami, outcome)
        return outcome
    outcome.steps.append(
        "reloaded and verified" + (" (dialplan and queues)" if outcome.queues_changed else "")
    )
    outcome.ok = True
    return outcome


async def _restore(
    written: list[tuple[Path, bytes | None]], open_ami: AmiOpener, outcome: ApplyOutcome
) -> bool:
    """Put every written file back, then reload the dialplan and, if the queues file was
    among them, app_queue."""
    try:
        for path, previous in written:
            if previous is None:
                await asyncio.to_thread(path.unlink, True)
            else:
                await asyncio.to_thread(write_atomic, path, previous)
            outcome.steps.append(f"put back the previous {path.name}")
        # The marker cti.web.routing looks for: every written file is back on disk.
        outcome.steps.append("previous file restored")
        async with open_ami() as ami:
            await ami.reload(DIALPLAN_MODULE)
            outcome.steps.append("reloaded the previous dialplan")
            if any(path.name == QUEUES_FILENAME for path, _ in written):
                await ami.reload(QUEUE_MODULE)
                outcome.steps.append("reloaded the previous queues")
        return True
    except (AmiError, OSError) as exc:
        outcome.steps.append(f"restore incomplete: {exc}")
        return False


def describe(outcome: ApplyOutcome) -> dict[str, Any]:
    return {
        "ok": outcome.ok,
        "error": outcome.error,
        "restored": outcome.restored,
        "lint_ok": outcome.lint.ok,
        "lint_output": outcome.lint.output,
        "steps": outcome.steps,
        "queues_changed": outcome.queues_changed,
    }
