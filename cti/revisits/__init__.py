"""Revisit calls and callbacks: click-to-call through AMI ``Originate`` into the ``[revisit]``
context, the list of tickets waiting for their revisit, recording what the citizen said,
and claiming after-hours callback requests so two agents never dial the same citizen."""
