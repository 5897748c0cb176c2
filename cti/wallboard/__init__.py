"""The supervisors' live wallboard: AMI queue events folded into per-county boards
(``board``, pure), published as deltas on the bus (``publisher``, the AMI side), and
kept and fanned out to supervisors' sockets, scoped by county (``cti.web.wallboard_hub``)."""
