"""How a benchmark publishes its figures: ``--write-docs`` replaces its output block in
``docs/performance.md``, nothing else.

The prose around the figures (what is measured, what moved them, whether the targets
are met) lives in ``docs/performance.md`` and is edited there, by people: a benchmark
only owns the fenced block whose first line is its own command line
(``$ .venv/bin/python bench/<name>.py ...``) inside its section. A section is a ``##`` or
``###`` heading, found by its exact title, up to the next ``##`` or ``###`` heading: one
benchmark can own a block per section (each kind of run its own) without one run
overwriting another's figures.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

PERFORMANCE = Path(__file__).resolve().parent.parent / "docs" / "performance.md"


class DocsError(Exception):
    """The section, or the block to replace in it, is not in the document."""


def _program(command: str) -> str:
    """``$ .venv/bin/python bench/bench_agi.py`` for a full command line."""
    words = command.split()
    if len(words) < 3 or words[0] != "$":
        raise DocsError(f"not a '$ <python> <script> ...' command line: {command!r}")
    return " ".join(words[:3])


def replace_block(document: str, section: str, command: str, output: str) -> str:
    """``document`` with the block of ``command``'s program in the section titled
    ``section`` (``##`` or ``###``) replaced by ``command`` and ``output``. Raises
    ``DocsError`` when there is no such block."""
    headings = list(re.finditer(rf"^###? {re.escape(section)}\n", document, re.M))
    if len(headings) != 1:
        raise DocsError(f"{len(headings)} sections titled '{section}' in the document, not 1")
    heading = headings[0]
    following = re.compile(r"^###? ", re.M).search(document, heading.end())
    end = following.start() if following else len(document)
    block = re.compile(rf"^```\n{re.escape(_program(command))}\b.*?^```\n", re.S | re.M)
    found = block.search(document, heading.end(), end)
    if found is None:
        raise DocsError(
            f"no block starting with '{_program(command)}' in '## {section}': "
            "write the section's text first, with an empty block for the figures"
        )
    new = "```\n" + command.rstrip("\n") + "\n" + output.rstrip("\n") + "\n```\n"
    return document[: found.start()] + new + document[found.end() :]


def publish(section: str, command: str, output: str, path: Path = PERFORMANCE) -> None:
    """Replace the block in ``path`` (docs/performance.md) and say so on stderr (stdout
    holds the figures only)."""
    path.write_text(replace_block(path.read_text(), section, command, output))
    print(f"updated '{section}' in {path}", file=sys.stderr)
