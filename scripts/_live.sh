# Shared by .ci/run and scripts/lab: put the real Asterisk 22 and SIPp on this machine when
# the installer is there (../shared/asterisk/install next to the checkout, else
# /work/shared/asterisk/install), with what the live suite needs besides: Debian's
# libsrtp2-1 (res_srtp is built and loaded; without the library it fails to load, an
# ERROR line), the core sounds (VoiceMail and the callback prompts) and the user
# "asterisk" (asterisk.conf runuser). Needs root (or sudo). Usage: . scripts/_live.sh
live_installer() {
    local c
    for c in "$ROOT/../shared/asterisk/install" /work/shared/asterisk/install; do
        [ -x "$c" ] && { echo "$c"; return 0; }
    done
    return 1
}

live_install() {
    local installer
    installer="$(live_installer)" || { echo "no Asterisk installer: the live suite will skip" >&2; return 0; }
    as_root "$installer" >/dev/null
    apt_install libsrtp2-1 asterisk-core-sounds-en-gsm
    id asterisk >/dev/null 2>&1 || as_root useradd --system --user-group \
        --home-dir /var/lib/asterisk --no-create-home --shell /usr/sbin/nologin asterisk
}
