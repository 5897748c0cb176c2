"""A real Asterisk 22 on loopback, configured from the project's own ``asterisk_conf/``.

``site_conf`` is the one place that says what the live suite and the lab change in the
copy of the folder: site data only (directories, the trunk's address, ports, secrets).
Everything else (dialplan, queues, modules, logging) is the project's file, byte for byte.
``Asterisk`` starts it in the foreground as a child process and talks to it over its
control socket (``asterisk -rx``).
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CONF_SRC = REPO_ROOT / "asterisk_conf"
PREFIX = Path(os.environ.get("CTI_LIVE_ASTERISK_PREFIX", "/opt/asterisk22"))
BINARY = PREFIX / "sbin" / "asterisk"
MODULES = PREFIX / "lib" / "asterisk" / "modules"
#: Debian's asterisk-core-sounds-en-gsm (VoiceMail's and the callback's prompts).
SOUNDS = Path("/usr/share/asterisk/sounds")
#: The citizens' calls come from here (the trunk is identified by address, pjsip.conf):
#: another loopback address than the agents' phones (127.0.0.1), or the agents'
#: REGISTERs would be taken for the trunk's.
TRUNK_HOST = "127.0.0.2"
AGENT_HOST = "127.0.0.1"
#: The asterisk.conf runuser (kept: the suite runs Asterisk as the project says).
RUN_USER = "asterisk"


def missing() -> str | None:
    """Why the live suite cannot run here (one line), or None."""
    if not BINARY.is_file():
        return f"no Asterisk at {BINARY} (run ../shared/asterisk/install, see docs/asterisk.md)"
    if shutil.which("sipp") is None:
        return "no sipp on PATH (Debian's sip-tester; ../shared/asterisk/install installs it)"
    if os.geteuid() != 0:
        return "Asterisk runs as the user asterisk (asterisk.conf runuser): needs root"
    try:
        pwd.getpwnam(RUN_USER)
    except KeyError:
        return f"no user {RUN_USER!r} (asterisk.conf runuser; scripts/_live.sh creates it)"
    if not (SOUNDS / "en").is_dir():
        return f"no core sounds at {SOUNDS}/en (Debian's asterisk-core-sounds-en-gsm)"
    return None


def free_port(host: str = "127.0.0.1", kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass
class Site:
    """Where a live Asterisk runs and what it listens on (all loopback)."""

    root: Path
    sip_port: int
    ami_port: int
    agi_port: int
    trunk_port: int
    ami_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    routing_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    #: Agent phone passwords by endpoint (pjsip_auth.conf).
    passwords: dict[str, str] = field(default_factory=dict)

    @property
    def etc(self) -> Path:
        return self.root / "etc"

    @property
    def log_dir(self) -> Path:
        return self.root / "log"

    @property
    def recordings(self) -> Path:
        return self.root / "spool" / "monitor" / "hotline"

    @property
    def voicemail(self) -> Path:
        return self.root / "spool" / "voicemail" / "hotline"

    @property
    def messages_log(self) -> Path:
        return self.log_dir / "messages.log"

    @property
    def queue_log(self) -> Path:
        return self.log_dir / "queue_log"

    def ami_url(self) -> str:
        return f"ami://cti:{self.ami_secret}@127.0.0.1:{self.ami_port}"

    def routing_ami_url(self) -> str:
        return f"ami://cti_routing:{self.routing_secret}@127.0.0.1:{self.ami_port}"


def new_site(root: Path | None = None) -> Site:
    """A fresh folder (mode 0755 up to it: Asterisk runs as another user) and free ports."""
    if root is None:
        root = Path(tempfile.mkdtemp(prefix="cti-live-"))
    root.chmod(0o755)
    return Site(
        root=root,
        sip_port=free_port("0.0.0.0", socket.SOCK_DGRAM),
        ami_port=free_port(),
        agi_port=free_port(),
        trunk_port=free_port(TRUNK_HOST, socket.SOCK_DGRAM),
    )


def _once(text: str, pattern: str, replacement: str, name: str) -> str:
    """Replace the one line that matches; the suite fails loudly when the project's file
    no longer has it (so a change to asterisk_conf/ cannot silently escape the copy)."""
    new, count = re.subn(pattern, replacement, text, flags=re.MULTILINE)
    if count != 1:
        raise AssertionError(f"{name}: expected one line matching {pattern!r}, found {count}")
    return new


def site_conf(site: Site, src: Path = CONF_SRC) -> None:
    """Copy ``src`` to ``site.etc`` and change ONLY site data; every change is here:

    * directories: ``asterisk.conf`` gets a ``[directories]`` section into ``site.root``
      (modules from the installed build); ``extensions.conf``'s ``CTI_RECDIR``
      points into its spool;
    * addresses and ports: the SIP transport's port, AMI's port, ``CTI_AGI_URL`` (the
      FastAGI server of this run), the trunk's address (``192.0.2.10`` becomes
      ``127.0.0.2:<trunk_port>``, where the citizens' SIPp runs);
    * secrets: ``pjsip_auth.conf`` (one random password per agent phone, from the
      ``.example``), the two AMI secrets.

    The agents' endpoints stay as they are: the phones register with their credentials
    (SIPp, ``sipp.AgentPhone``), as real phones do.
    """
    etc = site.etc
    shutil.copytree(src, etc, ignore=shutil.ignore_patterns("*.example", "*~"))

    asterisk_conf = (etc / "asterisk.conf").read_text()
    r = site.root
    asterisk_conf += (
        "\n; live suite: directories of this run\n[directories]\n"
        f"astetcdir => {etc}\nastmoddir => {MODULES}\nastvarlibdir => {r}/lib\n"
        f"astdbdir => {r}/lib\nastkeydir => {r}/lib\nastdatadir => {r}/lib\n"
        f"astagidir => {r}/lib/agi-bin\nastspooldir => {r}/spool\nastrundir => {r}/run\n"
        f"astlogdir => {site.log_dir}\nastsbindir => {PREFIX}/sbin\n"
    )
    (etc / "asterisk.conf").write_text(asterisk_conf)

    pjsip = (etc / "pjsip.conf").read_text()
    pjsip = _once(pjsip, r"^bind=0\.0\.0\.0:5060$", f"bind=0.0.0.0:{site.sip_port}", "pjsip")
    pjsip = _once(
        pjsip,
        r"^contact=sip:192\.0\.2\.10:5060$",
        f"contact=sip:{TRUNK_HOST}:{site.trunk_port}",
        "pjsip",
    )
    pjsip = _once(pjsip, r"^match=192\.0\.2\.10$", f"match={TRUNK_HOST}", "pjsip")
    (etc / "pjsip.conf").write_text(pjsip)

    auth = (src / "pjsip_auth.conf.example").read_text()
    for endpoint in re.findall(r"^\[(\w+)\]\(agent-auth\)$", auth, flags=re.MULTILINE):
        site.passwords[endpoint] = secrets.token_urlsafe(12)
        auth = _once(
            auth,
            rf"^password=CHANGE-ME-{endpoint}$",
            f"password={site.passwords[endpoint]}",
            "pjsip_auth",
        )
    (etc / "pjsip_auth.conf").write_text(auth)

    manager = (etc / "manager.conf").read_text()
    manager = _once(manager, r"^port=5038$", f"port={site.ami_port}", "manager")
    (etc / "manager.conf").write_text(manager)
    (etc / "manager_cti_secret.conf").write_text(f"secret={site.ami_secret}\n")
    (etc / "manager_cti_routing_secret.conf").write_text(f"secret={site.routing_secret}\n")

    ext = (etc / "extensions.conf").read_text()
    ext = _once(
        ext, r"^CTI_AGI_URL=.*$", f"CTI_AGI_URL=agi://127.0.0.1:{site.agi_port}", "extensions"
    )
    ext = _once(ext, r"^CTI_RECDIR=.*$", f"CTI_RECDIR={site.recordings}", "extensions")
    (etc / "extensions.conf").write_text(ext)

    _site_folders(site)


def _site_folders(site: Site) -> None:
    """What an install creates: keys/, cdr-csv/, the spool, hold music (a tone: nothing
    is fetched), the core sounds; all owned by the run user."""
    r = site.root
    for sub in ("lib/keys", "lib/agi-bin", "lib/moh", "run", "spool", "log/cdr-csv"):
        (r / sub).mkdir(parents=True, exist_ok=True)
    site.recordings.mkdir(parents=True, exist_ok=True)
    (r / "lib" / "sounds").symlink_to(SOUNDS)
    # Asterisk's XML documentation: without it the config frameworks refuse to register
    # ("Stasis initialization failed").
    (r / "lib" / "documentation").symlink_to(PREFIX / "var" / "lib" / "asterisk" / "documentation")
    _tone(r / "lib" / "moh" / "tone.wav")
    user = pwd.getpwnam(RUN_USER)
    for path in [r, *r.rglob("*")]:
        if not path.is_symlink():
            os.chown(path, user.pw_uid, user.pw_gid)
    # The secrets: readable by Asterisk only (and root, the suite).
    for name in ("pjsip_auth.conf", "manager_cti_secret.conf", "manager_cti_routing_secret.conf"):
        (site.etc / name).chmod(0o640)


def _tone(path: Path, seconds: int = 4) -> None:
    """A soft 400 Hz tone, 8 kHz mono 16-bit: the queues' hold music."""
    import math

    rate = 8000
    frames = bytearray()
    for n in range(rate * seconds):
        sample = int(3000 * math.sin(2 * math.pi * 400 * n / rate))
        frames += sample.to_bytes(2, "little", signed=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))


class CpuUnsupported(RuntimeError):
    """The installed Asterisk build died of SIGILL at start-up: it was compiled for
    instructions this machine's CPU does not have (the build's host had AVX-512)."""


def cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


class Asterisk:
    """The Asterisk process of a site: ``start``, ``cli``, ``stop``, its log."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.conf = site.etc / "asterisk.conf"
        self.process: subprocess.Popen[bytes] | None = None
        self._log_mark = 0

    def start(self, timeout: float = 30.0) -> None:
        self.process = subprocess.Popen(  # noqa: S603
            [str(BINARY), "-C", str(self.conf), "-f", "-n"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                if self.process.returncode == -signal.SIGILL:
                    flags = cpu_flags()
                    raise CpuUnsupported(
                        f"{BINARY} died of SIGILL (illegal instruction) at start-up: the build "
                        "uses CPU instructions this machine lacks"
                        + ("" if "avx512f" in flags else " (this CPU has no AVX-512)")
                        + "; rebuild Asterisk on this machine (docs/asterisk.md)"
                    )
                raise RuntimeError(
                    f"Asterisk exited ({self.process.returncode}) at start-up; "
                    f"see {self.site.messages_log}:\n{self.log_text()[-3000:]}"
                )
            result = self._rx("core waitfullybooted", check=False, timeout=timeout)
            if result.returncode == 0 and "fully booted" in result.stdout:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"Asterisk did not boot: {result.stdout}{result.stderr}")
            time.sleep(0.2)

    def _rx(self, command: str, *, check: bool = True, timeout: float = 15.0):
        return subprocess.run(  # noqa: S603
            [str(BINARY), "-C", str(self.conf), "-rx", command],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
        )

    def cli(self, command: str) -> str:
        """One CLI command's output."""
        return self._rx(command).stdout

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self._rx("core stop now", check=False)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def log_text(self) -> str:
        try:
            return self.site.messages_log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def error_lines(self) -> list[str]:
        """The ERROR lines of messages.log since the start."""
        return [line for line in self.log_text().splitlines() if "ERROR[" in line]
