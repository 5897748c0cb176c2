"""The knowledge base: articles agents answer callers from (issue 15).

- ``render``: Markdown to HTML that is safe to show (pure).
- ``query``: what a search box's text means, as a tsquery (pure).
- ``search``: the search itself (full text, trigram or substring fallback), browsing.
- ``articles``: create, edit and restore articles; every change a version.
- ``suggest``: the articles for a caller's open tickets (the screen-pop's panel).
- ``answers``: a ticket answered with an article; ``usage`` counts them for reports.
- ``starter``: the starter articles ``cti db seed`` makes from the service catalogue.
"""
