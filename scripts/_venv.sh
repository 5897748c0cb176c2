# Shared by scripts/serve and scripts/test: make sure .venv exists with the project in it.
# Usage: . scripts/_venv.sh EXTRAS   (EXTRAS like "" or "[test]")
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {  # apt_install PKG... : install Debian packages that are missing
    local missing=()
    for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "installing ${missing[*]} (apt)" >&2
    # Another run may be installing at the same moment: wait for dpkg's lock, not fail.
    local lock=(-o DPkg::Lock::Timeout=600)
    as_root apt-get "${lock[@]}" update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get "${lock[@]}" install -y -qq "${missing[@]}" >/dev/null
}

PYTHON="${PYTHON:-python3}"
"$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ needed"'
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv 2>/dev/null || {
        apt_install "python3-venv"
        rm -rf .venv
        "$PYTHON" -m venv .venv
    }
fi
stamp=".venv/.installed${1:-}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".${1:-}"
    touch "$stamp"
fi
