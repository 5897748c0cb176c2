"""The Asterisk Manager Interface side of the hotline: one connection per Asterisk node,
a pure call tracker that turns AMI events into domain events (``call_offered`` ...), and
the screen-pop decision and lookup that follows from them.

Module map (one job each):

* ``protocol``   -- AMI framing and parsing (incremental UTF-8), the panoramisk protocol;
* ``escaping``   -- undo AMI's C-escaping of caller names;
* ``events``     -- the domain events (dataclasses with ``to_dict``);
* ``tracker``    -- the pure call tracker (AMI event in, domain events out), with
  ``state`` (what it remembers), ``agents`` (agent states), ``resync`` (snapshots);
* ``connection`` -- login, reconnect with backoff, keep-alive, resync;
* ``service``    -- ``AmiService``: the connections + tracker behind ``cti.service.Service``;
* ``screenpop``  -- ``PopBook`` (one pop per call per agent) and the caller lookup;
* ``replay``/``cli`` -- ``cti ami replay FILE``.
"""
