"""Undo the C-escaping that AMI applies to caller-ID text.

Asterisk builds every channel header of an AMI event (``CallerIDName``,
``ConnectedLineName``, ``DestCallerIDName``...) through ``ast_escape_c``. Capture 2 shows
it with a SIP display name ``"O'Brien \\"x\\";,\\\\ a\\\\nb"``: PJSIP stores the name with
its quoted-pair backslashes (``O'Brien \\"x\\";,\\\\ a\\\\nb``, which is what
``agi_calleridname`` shows), and AMI escapes ``'``, ``"`` and ``\\`` once more, giving
``O\\'Brien \\\\\\"x\\\\\\";,\\\\\\\\ a\\\\\\\\nb``. The screen-pop must show the name as
Asterisk holds it, i.e. the ``agi_calleridname`` form, so we undo exactly one level.

``ast_escape_c`` (main/utils.c) escapes the C set ``\\a \\b \\f \\n \\r \\t \\v \\\\ \\' \\" \\?``.
Only ``'``, ``"`` and ``\\`` were seen in the capture; the rest are undone too because,
with the backslash itself always escaped, a ``\\n`` in AMI text can only come from a real
newline (so a hostile name cannot smuggle a line break into the AMI framing, and we give it
back as the character it was). An unknown escape or a lone trailing backslash is kept
as it is: this function never raises on any input.
"""

from __future__ import annotations

_C_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "?": "?",
}

#: What AMI prints when a channel has no caller name or number.
UNKNOWN = "<unknown>"


def unescape_ami(value: str) -> str:
    """Return ``value`` with one level of ``ast_escape_c`` escaping removed.

    Promises: total (never raises), identity on text without a backslash, and
    ``unescape_ami(escape_ami(s)) == s`` for every string ``s``.
    """
    if "\\" not in value:
        return value
    out: list[str] = []
    i = 0
    n = len(value)
    while i < n:
        ch = value[i]
        if ch == "\\" and i + 1 < n:
            nxt = value[i + 1]
            plain = _C_ESCAPES.get(nxt)
            if plain is not None:
                out.append(plain)
                i += 2
                continue
        out.append(ch)
        i += 1
    return "".join(out)


_REVERSE = {plain: "\\" + code for code, plain in _C_ESCAPES.items()}


def escape_ami(value: str) -> str:
    """Escape ``value`` the way ``ast_escape_c`` does (used by tests and fixtures)."""
    return "".join(_REVERSE.get(ch, ch) for ch in value)


def caller_name(value: str | None, max_length: int = 255) -> str | None:
    """The caller name as Asterisk holds it, or None when AMI says there is none.

    ``<unknown>`` is how AMI prints an empty name (a caller with no display name); a
    caller who literally sends ``<unknown>`` is indistinguishable and also gets None.
    Text is capped at ``max_length`` characters (SIP names are already cut at 79 by
    Asterisk; other channel drivers may send more).
    """
    if value is None or value == "" or value == UNKNOWN:
        return None
    return unescape_ami(value)[:max_length]
