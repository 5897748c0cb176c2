"""``cti db seed``: reference data upserted, the first admin created once."""

from sqlalchemy import func, select

from cti.seed import REFERENCE_DIR, load_counties, load_yaml, seed
from cti.store.catalog import ServiceCategory
from cti.store.counties import County
from cti.store.users import Role, User


async def test_seed_is_idempotent_and_creates_one_admin(session_factory, seeded):
    async with session_factory() as db:
        again = await seed(db)
        await db.commit()
    assert again.admin_credentials is None  # an admin already exists: none created, none shown
    async with session_factory() as db:
        counties = (await db.scalars(select(County.code).order_by(County.code))).all()
        admins = await db.scalar(
            select(func.count())
            .select_from(User)
            .where(User.role == Role.ADMIN.value, User.username == "admin")
        )
        categories = await db.scalar(select(func.count()).select_from(ServiceCategory))
    assert counties == sorted(c["code"] for c in load_counties())
    assert admins == 1
    catalog = load_yaml(REFERENCE_DIR / "service_catalog.yaml")
    assert categories == len(catalog) + sum(len(g["items"]) for g in catalog)


async def test_catalogue_covers_the_centres_services(session_factory, seeded):
    async with session_factory() as db:
        codes = set((await db.scalars(select(ServiceCategory.code))).all())
    for code in (
        "family.nanny",
        "family.elderly_care",
        "maintenance.water",
        "elderly",
        "medical.pharmacy",
        "property.meter_reading",
        "shopping",
        "housing.rent",
        "jobs.seeking",
        "legal.consultation",
        "info.funerals",
    ):
        assert code in codes


async def test_every_item_has_its_group_as_parent(session_factory, seeded):
    async with session_factory() as db:
        rows = (
            await db.execute(
                select(ServiceCategory.code, ServiceCategory.parent_id, ServiceCategory.id)
            )
        ).all()
    by_id = {row.id: row.code for row in rows}
    for code, parent_id, _ in rows:
        if "." in code:
            assert by_id[parent_id] == code.split(".")[0]
        else:
            assert parent_id is None
