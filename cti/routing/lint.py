"""Lint a rendered include together with the dialplan that includes it (asterisklint).

asterisklint reads ``extensions.conf`` and follows its ``#include``, so the check runs on
a private copy of the configuration folder's ``extensions.conf`` next to the candidate
``extensions_routing.conf``: the live folder is never touched by a lint. Any message is a
failure (the shipped dialplan lints clean, ``tests/unit/test_asterisk_conf.py``), so a
Goto to a missing context, an unknown application or unbalanced parentheses stop the
apply before anything is written.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cti.routing.render import FILENAME


@dataclass(frozen=True, slots=True)
class LintResult:
    ok: bool
    output: str


def asterisklint_exe() -> str:
    found = shutil.which("asterisklint")
    return found or str(Path(sys.executable).parent / "asterisklint")


def lint(text: str, conf_dir: Path, timeout: float = 60.0) -> LintResult:
    """Run ``asterisklint dialplan-check`` on ``conf_dir/extensions.conf`` with ``text`` as
    the routing include. ``ok`` only when it exits 0 and prints nothing."""
    source = conf_dir / "extensions.conf"
    if not source.is_file():
        return LintResult(False, f"{source} not found: cannot lint the routing include")
    with tempfile.TemporaryDirectory(prefix="cti-lint-") as tmp:
        folder = Path(tmp)
        shutil.copyfile(source, folder / "extensions.conf")
        (folder / FILENAME).write_text(text, encoding="utf-8")
        try:
            result = subprocess.run(  # noqa: S603 (fixed argv, no shell)
                [asterisklint_exe(), "dialplan-check", "extensions.conf"],
                cwd=folder,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return LintResult(False, f"asterisklint could not run: {exc}")
    output = (result.stdout + result.stderr).strip()
    return LintResult(result.returncode == 0 and not output, output)
