"""What the text of a search box means (pure): words that must all be in an article,
"quoted phrases" whose words must follow each other, and -words that must not be there.
The last word also matches as the start of a longer one (``plumb`` finds "plumbing"), so
a short query finds something while the agent is still typing.

The tsquery is built from word characters only, each lexeme quoted, so nothing a user
types can change its syntax; it is still passed to Postgres as a bound parameter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Longer input is cut (a search box, not a document).
MAX_TEXT = 200
#: More terms than this are ignored: each one is another index lookup.
MAX_TERMS = 8
MAX_WORD = 64
MIN_PREFIX = 2

# Postgres' parser splits "hot-water" and "a_b" into their parts as well; splitting on
# anything but letters and digits finds the same lexemes.
_WORD = re.compile(r"[^\W_]+")
_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed search. ``prefix`` is the word matched as a prefix (the last one typed)."""

    words: tuple[str, ...] = ()
    phrases: tuple[tuple[str, ...], ...] = ()
    excluded: tuple[str, ...] = ()
    prefix: str | None = None

    @property
    def empty(self) -> bool:
        """Nothing to look for (only exclusions, or nothing at all)."""
        return not (self.words or self.phrases)

    @property
    def plain(self) -> str:
        """The positive words in order, space-separated: what trigram similarity and the
        substring fallback compare titles with."""
        return " ".join(list(self.words) + [w for p in self.phrases for w in p])


def _words(text: str) -> list[str]:
    return [w[:MAX_WORD] for w in _WORD.findall(text.lower())]


def parse(text: str) -> Query:
    """``text`` as a :class:`Query`; never raises (hostile input gives an empty or a
    harmless query)."""
    text = text.replace("\x00", " ")[:MAX_TEXT]
    words: list[str] = []
    phrases: list[tuple[str, ...]] = []
    excluded: list[str] = []
    terms = 0
    last_plain: str | None = None
    for negated, quoted, bare in _TOKEN.findall(text):
        if terms >= MAX_TERMS:
            break
        if bare:
            negate = bare.startswith("-") and len(bare) > 1
            parts = _words(bare[1:] if negate else bare)
            if not parts:
                continue
            terms += 1
            if negate:
                excluded.extend(w for w in parts if w not in excluded)
                last_plain = None
            elif len(parts) == 1:
                if parts[0] not in words:
                    words.append(parts[0])
                last_plain = parts[0]
            else:  # "hot-water": its parts next to each other, as Postgres indexed it
                phrases.append(tuple(parts))
                last_plain = None
        else:
            parts = _words(quoted)
            if not parts:
                continue
            terms += 1
            last_plain = None
            if negated:
                excluded.extend(w for w in parts if w not in excluded)
            elif len(parts) == 1:
                if parts[0] not in words:
                    words.append(parts[0])
            else:
                phrases.append(tuple(parts))
    excluded = [w for w in excluded if w not in words]
    # One letter as a prefix is most of the dictionary: matched as the word it is.
    prefix = last_plain if last_plain and len(last_plain) >= MIN_PREFIX else None
    return Query(tuple(words), tuple(phrases), tuple(excluded), prefix)


def to_tsquery(query: Query, *, loose: bool = False) -> str:
    """The text for ``to_tsquery('simple', ...)``; ``""`` for an empty query. ``loose``:
    a phrase's words anywhere (what the index answers without reading the rows)."""
    if query.empty:
        return ""
    parts = []
    for word in query.words:
        parts.append(f"'{word}':*" if word == query.prefix else f"'{word}'")
    for phrase in query.phrases:
        joiner = " & " if loose else " <-> "
        parts.append("(" + joiner.join(f"'{w}'" for w in phrase) + ")")
    parts.extend(f"!'{w}'" for w in query.excluded)
    return " & ".join(parts)
