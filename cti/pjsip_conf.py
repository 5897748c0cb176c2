"""The phones an agent may be given: the PJSIP endpoints of the project's ``pjsip.conf``.

Pure: ``endpoints(text)`` reads Asterisk's config syntax (``[name](!,template,...)``
sections, ``key=value`` or ``key => value`` lines, ``;`` comments) and resolves each
section's templates; an endpoint is a non-template section whose ``type`` is ``endpoint``.
``agent_phones`` keeps the endpoints whose dialplan context is the agents' one (a trunk is
an endpoint too, but no agent answers calls on it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

AGENT_CONTEXT = "agents"
_SECTION = re.compile(r"^\[([^\]]+)\]\s*(?:\(([^)]*)\))?\s*$")
_SETTING = re.compile(r"^([A-Za-z0-9_.-]+)\s*=>?\s*(.*)$")


@dataclass
class Section:
    name: str
    template: bool = False
    parents: tuple[str, ...] = ()
    settings: dict[str, str] = field(default_factory=dict)


def sections(text: str) -> list[Section]:
    """The sections in file order; a name may appear more than once (endpoint and aor)."""
    found: list[Section] = []
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        head = _SECTION.match(line)
        if head:
            options = [o.strip() for o in (head.group(2) or "").split(",") if o.strip()]
            found.append(
                Section(
                    name=head.group(1).strip(),
                    template="!" in options,
                    parents=tuple(o for o in options if o not in ("!", "+")),
                )
            )
            continue
        setting = _SETTING.match(line)
        if setting and found:
            found[-1].settings.setdefault(setting.group(1).lower(), setting.group(2).strip())
    return found


def _resolved(section: Section, templates: dict[str, Section], depth: int = 0) -> dict[str, str]:
    if depth > 16:  # a template loop: Asterisk refuses it too
        return dict(section.settings)
    merged: dict[str, str] = {}
    for parent in section.parents:
        if parent in templates:
            merged.update(_resolved(templates[parent], templates, depth + 1))
    merged.update(section.settings)
    return merged


def endpoints(text: str) -> dict[str, dict[str, str]]:
    """``{endpoint name: its settings with templates applied}``."""
    all_sections = sections(text)
    templates = {s.name: s for s in all_sections if s.template}
    out: dict[str, dict[str, str]] = {}
    for section in all_sections:
        if section.template:
            continue
        settings = _resolved(section, templates)
        if settings.get("type") == "endpoint":
            out[section.name] = settings
    return out


def agent_phones(text: str) -> frozenset[str]:
    """The queue-member interfaces (``PJSIP/<endpoint>``) of the agents' endpoints."""
    return frozenset(
        f"PJSIP/{name}"
        for name, settings in endpoints(text).items()
        if settings.get("context") == AGENT_CONTEXT
    )


def agent_phones_in(conf_dir: Path) -> frozenset[str]:
    """:func:`agent_phones` of ``conf_dir/pjsip.conf`` (none when the file is missing)."""
    try:
        return agent_phones((conf_dir / "pjsip.conf").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return frozenset()
