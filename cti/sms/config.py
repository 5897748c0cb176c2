"""What the SMS intake needs from ``Settings``, and its counters for ``/metrics``."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from cti.numbers import NumberPlan
from cti.settings import Settings

#: Largest webhook body read (bytes) and longest text accepted (characters: ten
#: concatenated SMS segments are ~1,530; room for gateways that join more).
MAX_BODY = 16 * 1024
MAX_TEXT = 4000


@dataclass(frozen=True, slots=True)
class IntakeConfig:
    secret: str | None = field(repr=False)
    window_s: int = 300
    append_hours: int = 24
    revisit_reply_hours: int = 72
    category: str = "info"
    plan: NumberPlan = field(default_factory=NumberPlan)

    @classmethod
    def from_settings(cls, settings: Settings) -> IntakeConfig:
        secret = settings.sms_webhook_secret
        return cls(
            secret=secret.get_secret_value() or None if secret else None,
            window_s=settings.sms_webhook_window_s,
            append_hours=settings.sms_append_hours,
            revisit_reply_hours=settings.sms_revisit_reply_hours,
            category=settings.sms_category,
            plan=settings.number_plan,
        )


def mobile_pattern(settings: Settings) -> re.Pattern[str]:
    return re.compile(settings.sms_mobile_pattern)


@dataclass(slots=True)
class WebhookCounters:
    """Posts to the webhook by what became of them (this process's, since it started)."""

    accepted: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)

    def metrics(self) -> list[str]:
        lines = [
            "# HELP cti_sms_inbound_total Text messages taken from the gateway, by outcome.",
            "# TYPE cti_sms_inbound_total counter",
        ]
        lines += [
            f'cti_sms_inbound_total{{outcome="{k}"}} {v}' for k, v in sorted(self.accepted.items())
        ]
        lines += [
            "# HELP cti_sms_webhook_refused_total Webhook posts refused, by reason.",
            "# TYPE cti_sms_webhook_refused_total counter",
        ]
        lines += [
            f'cti_sms_webhook_refused_total{{reason="{k}"}} {v}'
            for k, v in sorted(self.refused.items())
        ]
        return lines


@dataclass(slots=True)
class SmsIntake:
    """The webhook's configuration and counters, built once by ``cti.app``."""

    config: IntakeConfig
    counters: WebhookCounters = field(default_factory=WebhookCounters)
