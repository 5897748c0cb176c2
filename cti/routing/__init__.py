"""County routing: rules in Postgres, one pure route decision, the dialplan rendered from
it, and applying it to Asterisk safely (issue #5)."""
