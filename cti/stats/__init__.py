"""Statistics for supervisors and the authority: pure figures (``calls``,
``service_figures``), the rollup and raw-row queries that feed them (``queries``,
``service_queries``), the renderings (``report``, ``service_report``, ``charts``,
``export``, ``service`` for the database side), and Asterisk's own account
(``queue_log``) the call figures are held to."""
