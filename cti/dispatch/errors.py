"""Errors of dispatch, mapped to HTTP status codes by the routes that call it.

Lifecycle refusals are not here: they are :class:`cti.tickets.lifecycle.TransitionRefused`
(409), raised by :func:`cti.tickets.service.transition` and passed on unchanged.
"""

from __future__ import annotations


class DispatchError(ValueError):
    """Bad input to a dispatch action (``field`` names what is wrong): a 422."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class NotYours(LookupError):
    """The dispatch does not exist, or is not the actor's to act on (another company's, or
    outside a supervisor's county). Routes show it as 404, so a company cannot even learn
    that another company's dispatch exists."""


class NotEligible(ValueError):
    """The company cannot take this ticket (not approved, does not serve the ticket's county
    or category, or has no staff certified for it today); the message says which: a 422."""
