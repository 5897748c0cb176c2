"""Statistics for supervisors and the authority: pure figures (``calls``), the rollup
and raw-row queries that feed them (``queries``), and the renderings (``charts``,
``export``, ``monthly``)."""
