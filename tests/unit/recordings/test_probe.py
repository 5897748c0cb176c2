"""Header parsing: the captured MixMonitor files, and every way a WAV can be broken."""

import io
import struct
import wave

import pytest

from cti.recordings.files import Readiness, readiness
from cti.recordings.probe import (
    AudioInfo,
    NotPcmWav,
    ProbeError,
    inspect_wav,
    parse_ffprobe,
)

# From recordings/INDEX.txt of the capture: (name, bytes, duration in seconds).
CAPTURED = [
    ("north-13800138000-1795710920.0.wav", 96364, 6.02),
    ("south-13900139000-1795710933.2.wav", 127404, 7.96),
    ("followup-13800138000-1795710973.6.wav", 64684, 4.04),
]


@pytest.mark.parametrize(("name", "size", "seconds"), CAPTURED)
def test_captured_mixmonitor_files(traces_dir, name, size, seconds):
    data = (traces_dir / "recordings" / name).read_bytes()
    assert len(data) == size
    info = inspect_wav(data[:65536], len(data))
    assert info == AudioInfo("wav", "pcm_s16le", 8000, 1, round(seconds * 1000))


def _wav(frames: bytes, rate=8000, channels=1, width=2) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(frames)
    return buf.getvalue()


def test_stereo_16k():
    data = _wav(b"\x00\x00" * 2 * 16000, rate=16000, channels=2)
    info = inspect_wav(data, len(data))
    assert (info.sample_rate, info.channels, info.duration_ms) == (16000, 2, 1000)
    assert info.problem is None and not info.unfinalised


def test_file_being_written_has_zero_sizes_in_its_header():
    # What MixMonitor's file looks like before Asterisk closes it: sizes 0, audio following.
    data = bytearray(_wav(b"\x01\x00" * 8000))
    struct.pack_into("<I", data, 4, 0)
    struct.pack_into("<I", data, 40, 0)
    info = inspect_wav(bytes(data[:65536]), len(data))
    assert info.unfinalised
    assert info.duration_ms == 1000  # from the bytes actually there
    assert "not finalised" in info.problem


def test_truncated_file_reports_its_real_duration():
    data = _wav(b"\x01\x00" * 8000)[: 44 + 8000]  # cut after half a second
    info = inspect_wav(data, len(data))
    assert info.duration_ms == 500
    assert info.problem.startswith("truncated") and not info.unfinalised


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not a RIFF"),
        (b"hello world, not audio at all", "not a RIFF"),
        (b"RIFF\x00\x00\x00\x00WAVE", "no data chunk"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00", "no data chunk"),
        (b"ID3\x03\x00\x00\x00", "not a RIFF"),
    ],
)
def test_garbage_and_truncated_headers(data, message):
    with pytest.raises(ProbeError, match=message):
        inspect_wav(data, len(data))


def test_header_cut_inside_fmt_chunk():
    data = _wav(b"\x00\x00" * 10)
    # data chunk header kept, fmt chunk made too short to hold its fields
    broken = data[:12] + b"fmt \x04\x00\x00\x00\x01\x00\x01\x00" + data[36:]
    with pytest.raises(ProbeError):
        inspect_wav(broken, len(broken))


def test_zero_sample_rate_is_refused():
    data = bytearray(_wav(b"\x00\x00" * 10))
    struct.pack_into("<I", data, 24, 0)
    with pytest.raises(ProbeError):
        inspect_wav(bytes(data), len(data))


def test_ulaw_wav_is_left_to_ffprobe():
    data = bytearray(_wav(b"\x00\x00" * 10))
    struct.pack_into("<H", data, 20, 7)  # WAVE_FORMAT_MULAW
    with pytest.raises(NotPcmWav):
        inspect_wav(bytes(data), len(data))


def test_parse_ffprobe_output():
    out = (
        '{"streams":[{"codec_name":"mp3","sample_rate":"8000","channels":1}],'
        '"format":{"format_name":"mp3","duration":"6.024000"}}'
    )
    assert parse_ffprobe(out) == AudioInfo("mp3", "mp3", 8000, 1, 6024)


@pytest.mark.parametrize("out", ["", "{}", '{"streams":[],"format":{}}', "not json"])
def test_parse_ffprobe_without_audio(out):
    with pytest.raises(ProbeError):
        parse_ffprobe(out)


def test_readiness():
    done = AudioInfo("wav", "pcm_s16le", 8000, 1, 1000)
    writing = AudioInfo("wav", "pcm_s16le", 8000, 1, 1000, "x", unfinalised=True)
    assert readiness(done, 0.5, 10, 300) is Readiness.BUSY  # touched just now
    assert readiness(done, 11, 10, 300) is Readiness.READY
    assert readiness(writing, 60, 10, 300) is Readiness.BUSY  # header not written yet
    assert readiness(writing, 301, 10, 300) is Readiness.READY  # Asterisk died: index it


@pytest.mark.parametrize(
    ("suffix", "args", "fmt"),
    [
        (".mp3", ["-c:a", "libmp3lame", "-b:a", "32k"], "mp3"),
        (".ogg", ["-c:a", "libopus", "-b:a", "16k"], "ogg"),
        (".gsm", ["-ar", "8000", "-ac", "1", "-c:a", "gsm", "-f", "gsm"], "gsm"),
    ],
)
def test_other_formats_go_through_a_real_ffprobe(traces_dir, tmp_path, suffix, args, fmt):
    """Sites record in MP3/Opus/GSM too (MixMonitor's format follows the file name): the
    header comes from ffprobe, on a real file made from a captured recording."""
    import shutil
    import subprocess

    from cti.recordings.probe import probe_file

    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is needed (scripts/test installs it)")
    source = traces_dir / "recordings" / CAPTURED[0][0]
    target = tmp_path / f"call{suffix}"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(source), *args, str(target)], check=True
    )
    data = target.read_bytes()
    info = probe_file(target, data[:65536], len(data))
    assert fmt in info.format
    assert info.channels == 1
    # 6.02 s, give or take the codec's padding: an MP3 frame at 8 kHz is 144 ms, and the
    # encoder adds up to two of them.
    assert abs(info.duration_ms - 6020) <= 300
    # The same bytes named .wav are not a WAV: refused, not guessed.
    wrong = tmp_path / "call.wav"
    wrong.write_bytes(data)
    with pytest.raises(ProbeError):
        probe_file(wrong, data[:65536], len(data))
