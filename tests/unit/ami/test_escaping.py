"""AMI C-escaping of caller names (capture2/README.md, "Caller ID in AMI is escaped")."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cti.ami.escaping import caller_name, escape_ami, unescape_ami

# The capture's example: the SIP display name "O'Brien \"x\";,\\ a\\nb" ...
AGI_FORM = 'O\'Brien \\"x\\";,\\\\ a\\\\nb'  # ... as agi_calleridname shows it
AMI_FORM = 'O\\\'Brien \\\\\\"x\\\\\\";,\\\\\\\\ a\\\\\\\\nb'  # ... and as AMI prints it


def test_capture_example_unescapes_to_the_agi_form() -> None:
    assert unescape_ami(AMI_FORM) == AGI_FORM
    assert escape_ami(AGI_FORM) == AMI_FORM


def test_utf8_and_markup_pass_untouched() -> None:
    for text in ("José 张伟", "<img src=x onerror=alert(1)>", "Citizen North", ""):
        assert unescape_ami(text) == text


def test_c_escapes_become_the_characters_they_stand_for() -> None:
    assert unescape_ami("a\\nb\\tc\\?d\\re") == "a\nb\tc?d\re"


def test_unknown_escape_and_trailing_backslash_are_kept() -> None:
    assert unescape_ami("C:\\x") == "C:\\x"
    assert unescape_ami("end\\") == "end\\"


def test_caller_name_none_for_unknown_and_capped() -> None:
    assert caller_name("<unknown>") is None
    assert caller_name("") is None
    assert caller_name(None) is None
    assert caller_name("O\\'Brien") == "O'Brien"
    assert caller_name("x" * 1000) == "x" * 255


@given(st.text())
def test_round_trip(text: str) -> None:
    assert unescape_ami(escape_ami(text)) == text


@given(st.text(alphabet=st.sampled_from(list("\\'\"?nab x\u00e9"))))
def test_unescape_is_total(text: str) -> None:
    result = unescape_ami(text)
    assert len(result) <= len(text)
