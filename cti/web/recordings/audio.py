"""Replay: the audio (original or the player's compressed copy, with HTTP byte ranges) and
its waveform peaks.

Audio is served by recording id only; the file's path comes from the index row and is
resolved inside the recordings folder (``names.resolve_inside``), never from the client.
Every byte range served is written to the append-only access log.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any, BinaryIO, Literal

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import update

from cti.recordings import names
from cti.recordings.media import VARIANTS, MediaCache, MediaError
from cti.recordings.ranges import RangeNotSatisfiable, parse_range
from cti.store.recordings import Recording, RecordingAccess
from cti.web.deps import AnyUser, DbSession, client_ip
from cti.web.errors import AppError, Conflict, NotFound, documented
from cti.web.recordings.shared import RecordingId, visible

router = APIRouter()

CHUNK = 64 * 1024


class Gone(AppError):
    status_code = 410
    code = "gone"


class Unavailable(AppError):
    status_code = 503
    code = "unavailable"


def media_cache(request: Request) -> MediaCache:
    state = request.app.state
    cache = getattr(state, "recordings_media", None)
    if cache is None:
        cache = state.recordings_media = MediaCache(state.settings.data_dir / "recordings-cache")
    return cache


def _source_path(request: Request, row: Recording):  # noqa: ANN202
    if row.purged_at is not None:
        raise Gone(f"recording {row.id} was removed by retention on {row.purged_at:%Y-%m-%d}")
    try:
        return names.resolve_inside(request.app.state.settings.recordings_dir, row.path)
    except names.OutsideRoot:
        raise Gone(f"recording {row.id} has no servable file") from None


def _open_checked(path, row: Recording) -> tuple[BinaryIO, int]:  # noqa: ANN001
    """Open the indexed file and check it is still what was indexed (size and mtime):
    altered audio is never served as the recording."""
    fh = path.open("rb")
    st = os.fstat(fh.fileno())
    if st.st_size != row.size_bytes or abs(st.st_mtime - row.mtime.timestamp()) > 1e-3:
        fh.close()
        raise Conflict(
            f"recording {row.id} changed on disk since it was indexed; not served "
            "(run cti recordings reconcile)"
        )
    return fh, st.st_size


async def _mark_missing(db: DbSession, row: Recording) -> None:
    await db.execute(
        update(Recording)
        .where(Recording.id == row.id, Recording.missing_at.is_(None))
        .values(missing_at=datetime.now(UTC))
    )
    await db.commit()


async def _chunks(fh: BinaryIO, start: int, length: int) -> AsyncIterator[bytes]:
    try:
        await anyio.to_thread.run_sync(fh.seek, start)
        remaining = length
        while remaining > 0:
            chunk = await anyio.to_thread.run_sync(fh.read, min(CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        fh.close()


@router.get(
    "/api/recordings/{recording_id}/audio",
    summary="The recording's audio (byte ranges for seeking; logged in the access log)",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"audio/*": {"schema": {"type": "string", "format": "binary"}}}},
        206: {"description": "the requested byte range"},
        416: {"description": "the byte range is outside the file"},
        **documented(NotFound, Gone, Unavailable),
    },
)
async def audio(
    request: Request,
    recording_id: RecordingId,
    ctx: AnyUser,
    db: DbSession,
    cache: Annotated[MediaCache, Depends(media_cache)],
    variant: Literal["original", "opus"] = "original",
    download: bool = False,
) -> Response:
    """The audio with HTTP Range support (206, ``Content-Range``, suffix ranges, 416).
    ``variant=opus`` is the compressed copy the player uses; ``original`` is the file as
    Asterisk wrote it (what ``download`` gives for evidence)."""
    row = await visible(db, ctx.user, recording_id)
    path = _source_path(request, row)
    try:
        fh, size = await anyio.to_thread.run_sync(_open_checked, path, row)
    except FileNotFoundError:
        await _mark_missing(db, row)
        raise Gone(f"the file of recording {row.id} is missing on disk") from None
    except OSError as exc:
        raise Unavailable(f"cannot read recording {row.id}: {exc.strerror}") from None
    media_type = "audio/wav" if row.format == "wav" else f"audio/{row.format}"
    filename = f"recording-{row.id}.{row.format}"
    if variant != "original":
        fh.close()
        try:
            path = await cache.compressed(path, row.sha256, variant)
            fh = await anyio.to_thread.run_sync(path.open, "rb")
        except MediaError as exc:
            raise Unavailable(f"cannot convert recording {row.id}: {exc}") from None
        size = os.fstat(fh.fileno()).st_size
        ext, media_type = VARIANTS[variant]
        filename = f"recording-{row.id}.{ext}"
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": f'"{row.sha256[:32]}-{variant}"',
        "Cache-Control": "private, no-transform",
    }
    if download:
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    try:
        if request.headers.get("if-range") not in (None, headers["ETag"]):
            wanted = None  # the client's copy is another version: send it all
        else:
            wanted = parse_range(request.headers.get("range"), size)
    except RangeNotSatisfiable as exc:
        fh.close()
        return Response(
            status_code=416,
            headers={**headers, "Content-Range": exc.content_range},
            content=b"",
        )
    start, length, status = 0, size, 200
    if wanted is not None:
        start, length, status = wanted.start, wanted.length, 206
        headers["Content-Range"] = wanted.content_range(size)
    headers["Content-Length"] = str(length)
    db.add(
        RecordingAccess(
            user_id=ctx.user.id,
            username=ctx.user.username,
            recording_id=row.id,
            action="download" if download else "play",
            variant=variant,
            byte_range=headers.get("Content-Range", f"full/{size}"),
            ip=client_ip(request),
            user_agent=(request.headers.get("user-agent") or "")[:255] or None,
        )
    )
    try:
        await db.commit()  # logged before a byte is sent
    except Exception:
        fh.close()
        raise
    return StreamingResponse(
        _chunks(fh, start, length), status_code=status, media_type=media_type, headers=headers
    )


@router.get(
    "/api/recordings/{recording_id}/peaks",
    summary="Waveform peaks of the recording, for drawing it",
    responses=documented(NotFound, Gone, Unavailable),
)
async def peaks(
    request: Request,
    recording_id: RecordingId,
    ctx: AnyUser,
    db: DbSession,
    cache: Annotated[MediaCache, Depends(media_cache)],
) -> dict[str, Any]:
    """Waveform peaks (0..1, ``count`` buckets over ``duration_ms``) for the player."""
    row = await visible(db, ctx.user, recording_id)
    path = _source_path(request, row)
    if not await anyio.to_thread.run_sync(path.is_file):
        await _mark_missing(db, row)
        raise Gone(f"the file of recording {row.id} is missing on disk")
    try:
        values = await cache.peaks(path, row.sha256)
    except (MediaError, OSError) as exc:
        raise Unavailable(f"cannot read recording {row.id}: {exc}") from None
    return {"duration_ms": row.duration_ms, "count": len(values), "peaks": values}
