"""Apply a rendered include to a running Asterisk, and undo it if anything goes wrong.

render -> lint -> write atomically into the configuration folder -> AMI ``Reload
pbx_config`` -> ``ShowDialPlan`` and compare with what was rendered. On any failure after
the write, the previous file is put back (atomically), the dialplan is reloaded again and
the error is reported: the hotline keeps the last good routing.

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
from cti.routing.render import COUNTY_CONTEXT_PREFIX, FILENAME, ROUTING_CONTEXT

DIALPLAN_MODULE = "pbx_config"


class DialplanAmi(Protocol):
    async def reload(self, module: str) -> None: ...
    async def show_dialplan(self, context: str | None = None) -> list[AmiMessage]: ...


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
    ``ShowDialPlan`` reports: contexts, extensions in Asterisk's order (which is where a
    caller-ID pattern shows), priorities, labels, applications, their data, includes in
    order, and no other item in our contexts (see ``cti.routing.dialplan``). Live contexts
    looked at: those the file defines and any other named like ours."""
    return first_difference(
        expected, from_show_dialplan(live, lambda name: name in expected or _ours(name))
    )


async def _reload_and_verify(open_ami: AmiOpener, expected: Dialplan) -> None:
    async with open_ami() as ami:
        await ami.reload(DIALPLAN_MODULE)
        live = await ami.show_dialplan()
    problem = verify(expected, live)
    if problem:
        raise AmiError(f"the live dialplan is not the rendered one: {problem}")


async def apply_text(
    text: str,
    conf_dir: Path,
    open_ami: AmiOpener,
    *,
    lint: Linter = asterisklint,
    lint_result: LintResult | None = None,
) -> ApplyOutcome:
    """Lint, write, reload, verify; restore the previous file on failure."""
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
    path = conf_dir / FILENAME
    previous = path.read_bytes() if path.exists() else None
    try:
        await asyncio.to_thread(write_atomic, path, text.encode())
    except OSError as exc:
        outcome.error = f"could not write {path}: {exc}"
        return outcome
    outcome.steps.append(f"wrote {path}")
    try:
        await _reload_and_verify(open_ami, expected)
    except (AmiError, OSError) as exc:
        outcome.error = str(exc)
        outcome.steps.append(f"failed: {exc}")
        outcome.restored = await _restore(path, previous, open_ami, outcome)
        return outcome
    outcome.steps.append("reloaded and verified")
    outcome.ok = True
    return outcome


async def _restore(
    path: Path, previous: bytes | None, open_ami: AmiOpener, outcome: ApplyOutcome
) -> bool:
    try:
        if previous is None:
            await asyncio.to_thread(path.unlink, True)
        else:
            await asyncio.to_thread(write_atomic, path, previous)
        outcome.steps.append("previous file restored")
        async with open_ami() as ami:
            await ami.reload(DIALPLAN_MODULE)
        outcome.steps.append("reloaded the previous dialplan")
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
    }
