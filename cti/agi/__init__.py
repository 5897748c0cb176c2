"""FastAGI call logging: Asterisk hands each call's start and end to this package, which
writes them durably into a local journal and drains the journal into Postgres.

Layout (one job per module):

* ``protocol``    AGI framing: environment, commands, responses (pure)
* ``records``     the journal record and text sanitising (pure)
* ``handlers``    call-start / call-end: environment + parameters -> record (pure)
* ``rows``        record -> table row semantics, batch merging (pure)
* ``journal``     durable, fsync'd, multi-process append-only journal (file I/O)
* ``groupcommit`` many concurrent appends -> one write + fsync (asyncio)
* ``session``     one FastAGI connection: read, dispatch, journal, acknowledge
* ``server``      asyncio accept loop, limits, timeouts
* ``writer``      journal -> Postgres, in order, in batches, idempotent
* ``rejected``    the records Postgres refused (rejected.jnl): list, re-queue
* ``service``     ``AgiService`` (the ``cti.service.Service`` that ``cti serve`` runs)
* ``classic``     the same handlers as process-per-call AGI scripts (pyst2)
* ``cli``         ``cti agi ...`` sub-commands
"""
