"""Text messages: the gateway's inbound webhook turned into tickets, notes and revisit
scores; texts to citizens (ticket number, revisit question) from an outbox; STOP."""
