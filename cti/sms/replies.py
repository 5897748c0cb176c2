"""What a citizen's text says to us, before anything is looked up (pure): STOP, START,
a score 1-5, or just text.

Phones send full-width digits and letters (``５``, ``ＳＴＯＰ``) and people add a full stop
or spaces: the text is NFKC-normalised, trimmed of spaces and trailing punctuation and
case-folded before it is compared. Only a whole message that is one of the words counts:
"please stop the plumber coming" is text, not an opt-out.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum

#: What people and carriers use to unsubscribe (``TD`` / 退订 are the Chinese carriers').
STOP_WORDS = frozenset({"stop", "stopall", "unsubscribe", "end", "quit", "td", "退订"})
START_WORDS = frozenset({"start", "unstop", "resume"})
_TRAILING = " \t\r\n.!?,;:。！？，；：~"


class ReplyKind(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    SCORE = "score"
    TEXT = "text"


@dataclass(frozen=True, slots=True)
class Reply:
    kind: ReplyKind
    score: int | None = None


def normalised(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().rstrip(_TRAILING).strip().casefold()


def classify(text: str) -> Reply:
    """STOP or START (one of the words, alone), a score (one digit 1-5, alone), else text.
    ``0``, ``6``, ``10``, ``4.5`` and ``five`` are text: an agent reads them."""
    word = normalised(text)
    if word in STOP_WORDS:
        return Reply(ReplyKind.OPT_OUT)
    if word in START_WORDS:
        return Reply(ReplyKind.OPT_IN)
    if len(word) == 1 and word in "12345":
        return Reply(ReplyKind.SCORE, int(word))
    return Reply(ReplyKind.TEXT)
