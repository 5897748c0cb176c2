"""A company's webhook after its application: a new URL, or none (email only), each with a
new signing secret (shown once) so a key that may have leaked stops working at once."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cti.companies import rules
from cti.store import audit
from cti.store.companies import Company
from cti.store.users import User


async def set_webhook(
    db: AsyncSession, company: Company, url: object, actor: User, *, ip: str | None = None
) -> str | None:
    """Set (or, with an empty ``url``, remove) the company's webhook; a new secret
    whenever a URL is set, returned for the caller to show once (None without a webhook).
    Audited as ``company.webhook`` without the secret (not committed). Raises
    :class:`rules.CompanyError`."""
    clean = rules.webhook_url(url)
    company.webhook_url = clean
    company.webhook_secret = rules.new_webhook_secret() if clean else None
    audit.record(
        db,
        actor_id=actor.id,
        actor_name=actor.username,
        action="company.webhook",
        object_type="company",
        object_id=company.id,
        detail={"url": clean},
        ip=ip,
    )
    await db.flush()
    return company.webhook_secret
