"""What the browser plays: a compressed copy (Opus in Ogg, through ffmpeg) and waveform
peaks, both made on first use and cached under ``<data_dir>/recordings-cache`` by the
recording's SHA-256 (so a changed source never reuses a stale copy).

``peaks_from_pcm16`` is pure; the rest runs ffmpeg or reads files, in threads.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import warnings
import wave
from pathlib import Path

with warnings.catch_warnings():  # deprecated in 3.11, still the fastest max() over PCM
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

PEAK_BUCKETS = 800
TRANSCODE_TIMEOUT_S = 600.0
VARIANTS = {"opus": ("ogg", "audio/ogg")}


class MediaError(RuntimeError):
    """ffmpeg could not read or convert the source."""


def peaks_from_pcm16(frames: bytes, channels: int, buckets: int = PEAK_BUCKETS) -> list[float]:
    """Pure: the loudest sample of each of ``buckets`` equal slices, 0..1, channels mixed."""
    if channels == 2:
        frames = audioop.tomono(frames, 2, 0.5, 0.5)
    # more channels stay interleaved: the loudest sample of a slice is still its peak
    samples = len(frames) // 2
    if samples == 0:
        return []
    buckets = max(1, min(buckets, samples))
    out = []
    for i in range(buckets):
        start = (i * samples // buckets) * 2
        end = ((i + 1) * samples // buckets) * 2
        out.append(round(audioop.max(frames[start:end], 2) / 32768, 3))
    return out


def _decode_pcm16(source: Path) -> tuple[bytes, int]:
    """The audio as 16-bit mono PCM: straight from a 16-bit WAV, else through ffmpeg."""
    try:
        with wave.open(str(source), "rb") as w:
            if w.getsampwidth() == 2:
                return w.readframes(w.getnframes()), w.getnchannels()
    except (wave.Error, EOFError):
        pass
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(source), "-ac", "1", "-f", "s16le", "-"]
    done = subprocess.run(  # noqa: S603 (fixed argv)
        cmd,
        capture_output=True,
        timeout=TRANSCODE_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        raise MediaError(done.stderr.decode(errors="replace").strip()[:200] or "ffmpeg failed")
    return done.stdout, 1


class MediaCache:
    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir
        self._locks: dict[str, asyncio.Lock] = {}

    def _lock(self, key: str) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())

    def path_for(self, sha256: str, variant: str) -> Path:
        ext = VARIANTS[variant][0]
        return self.cache_dir / sha256[:2] / f"{sha256}.{ext}"

    async def compressed(self, source: Path, sha256: str, variant: str = "opus") -> Path:
        """The cached compressed copy of ``source``, made now if it is not there yet."""
        target = self.path_for(sha256, variant)
        if target.exists():
            return target
        async with self._lock(f"{sha256}:{variant}"):
            if not target.exists():
                await asyncio.to_thread(self._transcode, source, target)
        return target

    @staticmethod
    def _transcode(source: Path, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        cmd = [
            "ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(source),
            "-ac", "1", "-c:a", "libopus", "-b:a", "24k", "-f", "ogg", str(tmp),
        ]  # fmt: skip
        try:
            done = subprocess.run(  # noqa: S603 (fixed argv)
                cmd, capture_output=True, timeout=TRANSCODE_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired:
            tmp.unlink(missing_ok=True)
            raise MediaError("ffmpeg timed out") from None
        if done.returncode != 0:
            tmp.unlink(missing_ok=True)
            raise MediaError(done.stderr.decode(errors="replace").strip()[:200] or "ffmpeg failed")
        tmp.replace(target)  # atomic: a reader never sees half a file

    async def peaks(self, source: Path, sha256: str) -> list[float]:
        target = self.cache_dir / sha256[:2] / f"{sha256}.peaks.json"
        if target.exists():
            return json.loads(target.read_text())
        async with self._lock(f"{sha256}:peaks"):
            frames, channels = await asyncio.to_thread(_decode_pcm16, source)
            peaks = peaks_from_pcm16(frames, channels)
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(".part")
            tmp.write_text(json.dumps(peaks))
            tmp.replace(target)
        return peaks
