"""Tickets: what the citizen asked for."""
