"""bench/docs.py: a benchmark's --write-docs replaces its own output block, nothing else."""

from __future__ import annotations

import shlex

import pytest

from bench.docs import PERFORMANCE, DocsError, replace_block

DOC = """# Performance

## AMI

Prose about AMI.

```
$ .venv/bin/python bench/bench_ami.py --copies 1 --write-docs
old ami figures
```

More prose.

## FastAGI

Text a person wrote.

```
$ .venv/bin/python bench/bench_agi.py --calls 10 --write-docs
old figures
line two
```

Verdict text.

```
$ .venv/bin/python bench/bench_agi_ab.py --rounds 6
an A/B run that is not the headline
```
"""


def test_only_the_commands_block_in_its_section_changes():
    new = replace_block(
        DOC, "FastAGI", "$ .venv/bin/python bench/bench_agi.py --calls 99", "new figures\n"
    )
    assert new == DOC.replace(
        "bench_agi.py --calls 10 --write-docs\nold figures\nline two\n",
        "bench_agi.py --calls 99\nnew figures\n",
    )
    # The other section's block, the prose and the A/B block are untouched.
    assert "old ami figures" in new and "an A/B run that is not the headline" in new
    assert "Text a person wrote." in new and "Verdict text." in new


def test_a_program_name_is_not_matched_by_its_prefix():
    # bench_agi.py must not take bench_agi_ab.py's block (nor the other way round).
    new = replace_block(DOC, "FastAGI", "$ .venv/bin/python bench/bench_agi_ab.py --x", "ab")
    assert "old figures" in new and "an A/B run" not in new


@pytest.mark.parametrize(
    ("section", "command"),
    [
        ("Routing", "$ .venv/bin/python bench/bench_agi.py"),  # no such section
        ("AMI", "$ .venv/bin/python bench/bench_agi.py"),  # not in that section
        ("FastAGI", "bench_agi.py --calls 1"),  # not a command line
    ],
)
def test_what_is_missing_is_an_error_not_an_appended_guess(section, command):
    with pytest.raises(DocsError):
        replace_block(DOC, section, command, "x")


@pytest.mark.parametrize(
    ("section", "script"),
    [
        ("AMI", "bench_ami.py"),
        ("Screen-pop latency", "bench_screenpop.py"),
        ("FastAGI", "bench_agi.py"),
        ("Ticket search", "bench_ticket_search.py"),
    ],
)
def test_performance_md_has_a_block_for_each_benchmark_that_writes_it(section, script):
    document = PERFORMANCE.read_text()
    replaced = replace_block(document, section, f"$ .venv/bin/python bench/{script} --x", "y")
    assert replaced != document


def test_the_fastagi_command_in_performance_md_is_the_one_bench_agi_writes():
    # The block's first line is what `bench_agi.py --write-docs` writes for the options
    # on that line: running it again replaces this block, with the same command.
    from bench import bench_agi

    document = PERFORMANCE.read_text()
    prefix = "$ .venv/bin/python bench/bench_agi.py "
    line = next(x for x in document.splitlines() if x.startswith(prefix))
    args = bench_agi.arguments().parse_args(shlex.split(line.removeprefix(prefix)))
    assert bench_agi.docs_command(args) == line
    assert replace_block(document, "FastAGI", line, "y") != document
    # Non-default options that change the report are written out too.
    other = bench_agi.arguments().parse_args(["--calls", "5", "--sweep", ""])
    assert "--calls 5 " in bench_agi.docs_command(other)
    assert " --sweep '' " in bench_agi.docs_command(other)


def test_the_ticket_search_command_in_performance_md_is_the_one_the_bench_writes():
    from bench import bench_ticket_search

    document = PERFORMANCE.read_text()
    prefix = "$ .venv/bin/python bench/bench_ticket_search.py "
    line = next(x for x in document.splitlines() if x.startswith(prefix))
    args = bench_ticket_search.arguments().parse_args(shlex.split(line.removeprefix(prefix)))
    assert bench_ticket_search.docs_command(args) == line
    assert replace_block(document, "Ticket search", line, "y") != document


SUBSECTIONS = """## Screen-pop latency

```
$ .venv/bin/python bench/bench_screenpop.py --agents 1000 --write-docs
main figures
```

### Screen-pop at 2,000 sockets

```
$ .venv/bin/python bench/bench_screenpop.py --agents 2000 --write-docs
twice the scale
```

### No block here

## FastAGI
"""


def test_a_subsection_owns_its_block_and_its_section_does_not_take_it():
    line = "$ .venv/bin/python bench/bench_screenpop.py --agents 2000 --write-docs"
    new = replace_block(SUBSECTIONS, "Screen-pop at 2,000 sockets", line, "new")
    assert "main figures" in new and "twice the scale" not in new and "new" in new
    line = "$ .venv/bin/python bench/bench_screenpop.py --agents 1000 --write-docs"
    new = replace_block(SUBSECTIONS, "Screen-pop latency", line, "new")
    assert "main figures" not in new and "twice the scale" in new
    # A subsection without the block is an error, not its parent's or sibling's block.
    with pytest.raises(DocsError):
        replace_block(SUBSECTIONS, "No block here", line, "x")


def test_a_title_found_twice_is_an_error():
    with pytest.raises(DocsError):
        replace_block(SUBSECTIONS + "## FastAGI\n", "FastAGI", "$ a b c", "x")


def test_each_screenpop_block_is_written_by_the_run_its_command_line_makes():
    """Every bench_screenpop block in performance.md sits in the section its command's
    run publishes to, and publishing one leaves the others (the 1,000 sockets / 50 calls/s
    figures among them) alone."""
    import re

    from bench import bench_screenpop

    document = PERFORMANCE.read_text()
    prefix = "$ .venv/bin/python bench/bench_screenpop.py "
    found: dict[str, str] = {}  # section -> its block, fences included
    for heading in re.finditer(r"^###? (.+)\n", document, re.M):
        rest = document[heading.end() :]
        following = re.search(r"^###? ", rest, re.M)
        body = rest[: following.start()] if following else rest
        block = re.search(rf"^```\n{re.escape(prefix)}.*?^```\n", body, re.S | re.M)
        if block:
            found[heading[1]] = block[0]
    assert set(found) == set(bench_screenpop.SECTIONS.values())
    for section, block in found.items():
        line = block.splitlines()[1]
        args = bench_screenpop.arguments().parse_args(shlex.split(line.removeprefix(prefix)))
        assert bench_screenpop.section_of(args) == section
        assert bench_screenpop.docs_command(args) == line
        new = replace_block(document, section, line, "FIGURES")
        assert block not in new and f"{line}\nFIGURES\n" in new
        assert all(other in new for key, other in found.items() if key != section)
