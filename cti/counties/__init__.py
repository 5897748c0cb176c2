"""Counties and the service catalogue as the administrator edits them.

``validate`` checks what the admin typed (pure: data in, data or ``FormErrors`` out) with
the routing editor's own whitelist (``cti.routing.rules``, ``cti.routing.queues``);
``service`` reads and changes the database, auditing every change.
"""
