"""cti.dispatch.reputation.reputations: the facts read from dispatches, revisits and
complaint tickets in one query."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cti.dispatch import service
from cti.dispatch.reputation import Facts, facts_of, reputations
from cti.store.revisits import Revisit
from tests.integration.dispatch.factories import (
    make_account,
    make_company,
    make_county,
    make_ticket,
)


async def test_facts_count_each_company_own_work_and_complaints_go_to_the_last_dispatch(
    session_factory,
):
    async with session_factory() as db:
        county = await make_county(db)
        a = await make_company(db, [county])
        b = await make_company(db, [county])
        idle = await make_company(db, [county])
        user_a = await make_account(db, "company", company_id=a.id)
        user_b = await make_account(db, "company", company_id=b.id)
        agent = await make_account(db, "agent", county=county.code)

        # A: one job done in time, revisited 4 with an upheld complaint on the revisit.
        t1 = await make_ticket(db, agent, county)
        d1 = await service.dispatch_ticket(db, t1, a.id, agent)
        await service.respond(db, d1.id, "accept", user_a, "")
        await service.respond(db, d1.id, "finish", user_a, "")
        db.add(
            Revisit(
                ticket_id=t1.id,
                company_id=a.id,
                dispatch_id=d1.id,
                satisfaction=4,
                service_done=True,
                complaint=True,
                complaint_upheld=True,
            )
        )
        # A declines t2; B takes it, finishes late, and a complaint ticket about t2 is
        # upheld: it counts against B (t2's last dispatch), not A.
        t2 = await make_ticket(db, agent, county)
        d2 = await service.dispatch_ticket(db, t2, a.id, agent)
        await service.respond(db, d2.id, "decline", user_a, "busy")
        d3 = await service.dispatch_ticket(
            db, t2, b.id, agent, now=datetime.now(UTC) - timedelta(days=10)
        )
        await service.respond(db, d3.id, "accept", user_b, "")
        await service.respond(db, d3.id, "finish", user_b, "")
        db.add(
            Revisit(
                ticket_id=t2.id,
                company_id=b.id,
                dispatch_id=d3.id,
                satisfaction=1,
                service_done=True,
            )
        )
        db.add(
            Revisit(
                ticket_id=t2.id,
                company_id=b.id,
                dispatch_id=d3.id,
                satisfaction=2,
                service_done=False,
            )
        )
        complaint = await make_ticket(db, agent, county)
        complaint.complaint_of_id = t2.id
        complaint.complaint_upheld = True
        rejected = await make_ticket(db, agent, county)
        rejected.complaint_of_id = t1.id
        rejected.complaint_upheld = False
        await db.flush()

        facts = await facts_of(db, [a.id, b.id, idle.id])
        assert facts[a.id] == Facts(
            revisits=1,
            mean_satisfaction=4.0,
            jobs_done=1,
            done_in_time=1,
            declines=1,
            offered=2,
            complaints_upheld=1,
        )
        assert facts[b.id] == Facts(
            revisits=2,
            mean_satisfaction=1.5,
            jobs_done=1,
            done_in_time=0,
            declines=0,
            offered=1,
            complaints_upheld=1,
        )
        assert facts[idle.id] == Facts()
        reps = await reputations(db, [a.id, b.id, idle.id])
        assert reps[idle.id].score == 50.0
        assert reps[a.id].score > reps[b.id].score
        assert await reputations(db, []) == {}
        await db.rollback()
