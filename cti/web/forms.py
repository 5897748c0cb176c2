"""What the server-rendered forms share: undoing a refused change before the page is shown
again with why."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cti.web.sessions import AuthContext


async def undo_refused(db: AsyncSession, ctx: AuthContext) -> None:
    """Roll the refused change back and reload the logged-in account the page shows (the
    rollback expired it: reading it afterwards would need I/O the template cannot do)."""
    await db.rollback()
    for row in (ctx.user, ctx.session, ctx.token):
        if row is not None:
            await db.refresh(row)
