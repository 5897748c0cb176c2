"""Service companies: their application to join (``applications``), the admin's review
(``review``), their staff and certifications (``staff``), their portal logins (``logins``)
and the jobs dispatched to them as their portal shows them (``jobs``).

Pure checks live in ``rules`` and ``review.TABLE``; the other modules apply them to the
database and never commit (the caller's transaction holds the change and its audit entry).
"""
