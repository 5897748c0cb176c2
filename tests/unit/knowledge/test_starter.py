"""The starter articles' text (pure): one per catalogue item, information items answered
from the article, the others usually a ticket; names from the catalogue, verbatim."""

from __future__ import annotations

from cti.knowledge.render import to_html
from cti.knowledge.starter import seed_key, text_for
from cti.seed import REFERENCE_DIR, load_yaml


def test_every_item_of_the_shipped_catalogue_gets_a_titled_article():
    catalog = load_yaml(REFERENCE_DIR / "service_catalog.yaml")
    keys = set()
    for group in catalog:
        for item in group["items"]:
            title, body = text_for(group, item)
            assert title == item["name"] and body.startswith(f"# {item['name']}\n")
            assert group["name"] in body
            assert ("Answer on the call" in body) is (group["code"] == "info")
            assert "<h1>" in to_html(body)
            keys.add(seed_key(item["code"]))
    assert len(keys) == sum(len(g["items"]) for g in catalog)
