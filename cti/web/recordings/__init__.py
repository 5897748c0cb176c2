"""Recording search, replay, QA scoring, complaints and the access log (cti.recordings),
over HTTP: one module per job, all served by the one ``router`` below.

- ``shared``: role aliases, who may see which recording, the recording as the API shows it;
- ``search``: the search; ``detail``: one recording with what was said about it;
- ``access_log``: who listened to what; ``audio``: the audio and its waveform;
- ``scorecards`` and ``scores``: QA; ``comments``: timed notes; ``complaints``: legal holds;
- ``page``: the inspector's page.

The sub-routers are included in the order the routes were always registered: the literal
``/api/recordings/access-log`` must come before ``/api/recordings/{recording_id}``.
"""

from __future__ import annotations

from fastapi import APIRouter

from cti.web.recordings import (
    access_log,
    audio,
    comments,
    complaints,
    detail,
    page,
    scorecards,
    scores,
    search,
)

router = APIRouter()
for _module in (
    search,
    access_log,
    scorecards,
    detail,
    scores,
    comments,
    complaints,
    audio,
    page,
):
    router.include_router(_module.router)
del _module

__all__ = ["router"]
