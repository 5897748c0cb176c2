"""What the public site needs at run time, built once by ``cti.app``: the signing secret,
the guard's policy and rate limiters, and its counters for ``/metrics``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from cti.numbers import NumberPlan
from cti.public.account import AccountCache
from cti.public.guard import Limiters, RateLimits, TokenPolicy
from cti.settings import Settings


@dataclass(slots=True)
class PublicCounters:
    """Submissions taken and refused, by form (and reason), since this process started."""

    accepted: Counter[str] = field(default_factory=Counter)
    refused: Counter[tuple[str, str]] = field(default_factory=Counter)

    def metrics(self) -> list[str]:
        lines = [
            "# HELP cti_public_submissions_total Public site forms taken, by form.",
            "# TYPE cti_public_submissions_total counter",
        ]
        lines += [
            f'cti_public_submissions_total{{form="{k}"}} {v}'
            for k, v in sorted(self.accepted.items())
        ]
        lines += [
            "# HELP cti_public_refused_total Public site submissions refused, by form and reason.",
            "# TYPE cti_public_refused_total counter",
        ]
        lines += [
            f'cti_public_refused_total{{form="{form}",reason="{reason}"}} {v}'
            for (form, reason), v in sorted(self.refused.items())
        ]
        return lines


@dataclass(slots=True)
class PublicSite:
    #: Read on first use (``Settings.resolved_secret_key`` may write the key file).
    secret_source: Callable[[], str] = field(repr=False)
    plan: NumberPlan = field(default_factory=NumberPlan)
    token_policy: TokenPolicy = field(default_factory=TokenPolicy)
    limiters: Limiters = field(default_factory=lambda: Limiters.from_limits(RateLimits()))
    counters: PublicCounters = field(default_factory=PublicCounters)
    account: AccountCache = field(default_factory=AccountCache)
    _secret: bytes | None = field(default=None, repr=False)

    @property
    def secret(self) -> bytes:
        if self._secret is None:
            # A key of its own, derived: a form token can never pass for anything else.
            self._secret = ("public-forms:" + self.secret_source()).encode()
        return self._secret

    @classmethod
    def from_settings(cls, settings: Settings) -> PublicSite:
        return cls(
            secret_source=settings.resolved_secret_key,
            plan=settings.number_plan,
            token_policy=TokenPolicy(
                min_age_s=settings.public_min_submit_s, max_age_s=settings.public_max_form_age_s
            ),
            limiters=Limiters.from_limits(
                RateLimits(
                    submit_per_ip=settings.public_submits_per_ip_hour,
                    submit_per_phone=settings.public_submits_per_phone_hour,
                )
            ),
        )
