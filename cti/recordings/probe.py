"""What a recording holds, from its header only: format, codec, rate, channels, duration.

PCM WAV (what MixMonitor writes) is read with the ``wave`` module from the first bytes of
the file; the RIFF chunk sizes are also checked against the file's real size, which is how
a file still being written is told from a finished one. Anything else goes to ``ffprobe``,
which reads the container header and never decodes the audio.

``inspect_wav`` and ``parse_ffprobe`` are pure; ``probe_file`` does the I/O.
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

#: Enough for RIFF, fmt, fact, LIST/INFO before the data chunk in any file seen in practice.
HEAD_BYTES = 64 * 1024
FFPROBE_TIMEOUT_S = 20.0


class ProbeError(ValueError):
    """The file is not audio we can read (garbage, truncated header, unknown format)."""


class NotPcmWav(ProbeError):
    """A RIFF/WAVE file whose codec the ``wave`` module does not read (u-law, GSM...)."""


@dataclass(frozen=True, slots=True)
class AudioInfo:
    format: str
    codec: str
    sample_rate: int
    channels: int
    duration_ms: int
    #: The header and the bytes disagree: e.g. Asterisk has not closed the file yet (the
    #: data size is still 0), or the file was cut short. ``None`` when they agree.
    problem: str | None = None
    #: True when the data chunk's size is still 0 (or unset) while audio follows it: the
    #: signature of a MixMonitor file that is being written.
    unfinalised: bool = False


@dataclass(frozen=True, slots=True)
class _DataChunk:
    offset: int
    declared: int


def _data_chunk(head: bytes) -> _DataChunk:
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
        raise ProbeError("not a RIFF/WAVE file")
    pos = 12
    while pos + 8 <= len(head):
        chunk_id = head[pos : pos + 4]
        (size,) = struct.unpack_from("<I", head, pos + 4)
        if chunk_id == b"data":
            return _DataChunk(pos + 8, size)
        pos += 8 + size + (size & 1)
    raise ProbeError("no data chunk in the header (truncated or not audio)")


def inspect_wav(head: bytes, file_size: int) -> AudioInfo:
    """Read a PCM WAV header (``head`` = the first bytes of the file, ``file_size`` = its
    size on disk). Raises ``NotPcmWav`` for other WAV codecs, ``ProbeError`` for garbage."""
    chunk = _data_chunk(head)
    # A file still being written has a RIFF size of 0, which ``wave`` takes literally
    # ("not a WAVE file"); only its fmt parsing is wanted here, so give it the real size.
    patched = bytearray(head)
    struct.pack_into("<I", patched, 4, min(max(file_size - 8, 4), 0xFFFFFFFF))
    try:
        with wave.open(io.BytesIO(bytes(patched)), "rb") as w:
            channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
    except wave.Error as exc:
        if "unknown format" in str(exc):
            raise NotPcmWav(str(exc)) from None
        raise ProbeError(f"bad WAV header: {exc}") from None
    except (EOFError, struct.error) as exc:
        raise ProbeError(f"truncated WAV header: {exc or 'end of file'}") from None
    if rate <= 0 or channels <= 0 or width <= 0:
        raise ProbeError(f"impossible WAV parameters: {rate} Hz, {channels} ch, {width} B")
    frame = channels * width
    present = max(0, file_size - chunk.offset)
    problem = None
    unfinalised = False
    if chunk.declared in (0, 0xFFFFFFFF) and present > 0:
        # Asterisk writes sizes of 0 when it opens the file and the real ones on close.
        data = present
        unfinalised = True
        problem = f"header declares no audio but {present} bytes follow (not finalised)"
    elif chunk.declared > present:
        data = present
        problem = f"truncated: header declares {chunk.declared} audio bytes, file holds {present}"
    else:
        data = chunk.declared
    frames = data // frame
    return AudioInfo(
        format="wav",
        codec=f"pcm_s{width * 8}le" if width > 1 else "pcm_u8",
        sample_rate=rate,
        channels=channels,
        duration_ms=frames * 1000 // rate,
        problem=problem,
        unfinalised=unfinalised,
    )


def parse_ffprobe(output: str) -> AudioInfo:
    """``ffprobe -show_entries format=format_name,duration:stream=... -of json`` → info."""
    try:
        data = json.loads(output)
        stream = data["streams"][0]
        fmt = data["format"]
        rate = int(stream["sample_rate"])
        channels = int(stream["channels"])
        duration = float(fmt.get("duration") or stream.get("duration"))
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise ProbeError(f"ffprobe found no readable audio stream ({exc!r})") from None
    if rate <= 0 or channels <= 0 or duration < 0:
        raise ProbeError("ffprobe reported impossible audio parameters")
    return AudioInfo(
        format=str(fmt.get("format_name", "unknown")).split(",")[0][:16],
        codec=str(stream.get("codec_name", "unknown"))[:32],
        sample_rate=rate,
        channels=channels,
        duration_ms=round(duration * 1000),
    )


def ffprobe(path: Path) -> AudioInfo:
    cmd = [
        "ffprobe",
        "-v",
        "error",
        "-select_streams",
        "a:0",
        "-show_entries",
        "format=format_name,duration:stream=codec_name,sample_rate,channels,duration",
        "-of",
        "json",
        "--",
        str(path),
    ]
    try:
        done = subprocess.run(  # noqa: S603 (fixed argv, the path is one argument)
            cmd, capture_output=True, text=True, timeout=FFPROBE_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        raise ProbeError("ffprobe timed out") from None
    except FileNotFoundError:
        raise ProbeError("ffprobe is not installed") from None
    if done.returncode != 0:
        # ffprobe starts its message with the path; the report names the file already.
        message = done.stderr.strip().replace(str(path), "").lstrip(": ")
        raise ProbeError(f"ffprobe: {message[:200] or 'failed'}")
    return parse_ffprobe(done.stdout)


def probe_file(path: Path, head: bytes, file_size: int) -> AudioInfo:
    """Header facts for the file at ``path``, whose first bytes are ``head``."""
    if file_size == 0:
        raise ProbeError("empty file")
    if head[:4] in (b"RIFF", b"RIFX"):
        try:
            return inspect_wav(head, file_size)
        except NotPcmWav:
            pass
    elif path.suffix.lower() == ".wav":
        raise ProbeError("not a RIFF/WAVE file")
    return ffprobe(path)
