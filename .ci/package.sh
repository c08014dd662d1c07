#!/usr/bin/env bash
# The Debian package, end to end on this machine (as root, as CI runs): builds it with cargo-deb
# from the dev-profile binary that CI already built (.ci/run runs this after the `cargo build`
# of .ci/schemathesis.sh, so nothing is compiled here), installs it with dpkg, checks the
# systemd unit (systemd-analyze verify, and its security exposure), runs the installed binary
# as the `pantau` user on a loopback port and reads /healthz, upgrades it over itself while it
# serves (a backup is made first; a changed conffile is kept), then purges it and checks that
# the user, /etc/pantau and /var/lib/pantau are gone. The machine has no systemd as PID 1, so
# the daemon is started by hand the way the unit would start it.
#
# Releases are built with `cargo deb` (the release profile); this uses `--profile dev` only to
# reuse CI's build instead of a five-minute release build.
set -euo pipefail
cd "$(dirname "$0")/.."
began=$(date +%s)
say() { echo "package.sh: $*"; }
fail() { echo "package.sh: FAILED: $*" >&2; exit 1; }

command -v cargo-deb >/dev/null || fail "cargo-deb is missing: cargo install cargo-deb --locked"
if dpkg -s pantau >/dev/null 2>&1 || getent passwd pantau >/dev/null; then
    fail "a pantau package or user is already on this machine; this script installs and purges its own, so remove that one first (dpkg --purge pantau)"
fi

out=target/debian-ci
rm -rf "$out"
mkdir -p "$out"
work=$(mktemp -d)
daemon_pid=
cleanup() {
    if [ -n "$daemon_pid" ]; then
        pkill -TERM -P "$daemon_pid" -x pantau 2>/dev/null || true
        wait "$daemon_pid" 2>/dev/null || true
    fi
    if dpkg -s pantau >/dev/null 2>&1; then dpkg --purge pantau >/dev/null 2>&1 || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

say "building the package (cargo deb --profile dev)"
t0=$(date +%s)
# The dev profile is what CI's tests built; cargo-deb warns that it is meant for releases.
cargo deb --profile dev --locked --fast --quiet -o "$out/" 2>"$work/cargo-deb.log" \
    || { cat "$work/cargo-deb.log" >&2; fail "cargo deb"; }
first=$(ls "$out"/pantau_*_amd64.deb)
built=$(($(date +%s) - t0))
say "built $first ($(du -k "$first" | cut -f1) KiB) in ${built}s"

say "installing it with dpkg -i"
dpkg -i "$first" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg -i"; }
getent passwd pantau | grep -q ':/var/lib/pantau:/usr/sbin/nologin$' || fail "no pantau system user: $(getent passwd pantau)"
[ "$(stat -c '%U:%G %a' /var/lib/pantau)" = "pantau:pantau 750" ] || fail "/var/lib/pantau is $(stat -c '%U:%G %a' /var/lib/pantau)"
[ "$(stat -c '%U:%G %a' /etc/pantau/pantau.toml)" = "root:pantau 640" ] || fail "/etc/pantau/pantau.toml is $(stat -c '%U:%G %a' /etc/pantau/pantau.toml)"
for f in pantau.toml masterplan.toml screens.toml; do
    dpkg-query --showformat='${Conffiles}\n' --show pantau | grep -q " /etc/pantau/$f " || fail "/etc/pantau/$f is not a conffile"
done
grep -q '^database = "/var/lib/pantau/pantau.db"' /etc/pantau/pantau.toml || fail "the packaged database path"
grep -q '^listen = "127.0.0.1:8080"' /etc/pantau/pantau.toml || fail "the packaged listen address"

unit=/usr/lib/systemd/system/pantau.service
say "checking the unit: systemd-analyze verify"
systemd-analyze verify "$unit" >"$work/verify.log" 2>&1 || { cat "$work/verify.log" >&2; fail "systemd-analyze verify"; }
if [ -s "$work/verify.log" ]; then cat "$work/verify.log" >&2; fail "systemd-analyze verify had something to say"; fi
# Exposure 0.0 (locked down) .. 10.0 (unprotected); the unit must stay at 2.0 or below.
systemd-analyze security --offline=yes --threshold=20 "$unit" >"$work/security.log" 2>&1 \
    || { cat "$work/security.log" >&2; fail "systemd-analyze security: exposure above 2.0"; }
say "systemd-analyze security: $(tail -n 1 "$work/security.log" | sed 's/^→ //')"

say "running the installed binary"
/usr/bin/pantau --version
/usr/bin/pantau check --config /etc/pantau/pantau.toml

# As the unit would: the pantau user, the packaged settings; a free loopback port instead of
# 8080 through the environment override.
start_daemon() {
    : >"$work/daemon.log"
    runuser -u pantau -- env PANTAU_SERVER__LISTEN=127.0.0.1:0 PANTAU_LOG=info \
        /usr/bin/pantau run --config /etc/pantau/pantau.toml 2>"$work/daemon.log" &
    daemon_pid=$!
    base=
    for _ in $(seq 200); do
        base=$(grep -o 'open http://[0-9.:]*' "$work/daemon.log" | sed 's/^open //' || true)
        if [ -n "$base" ] && curl -fsS "$base/healthz" -o "$work/healthz.json" 2>/dev/null; then return; fi
        kill -0 "$daemon_pid" 2>/dev/null || { cat "$work/daemon.log" >&2; fail "the daemon exited"; }
        sleep 0.1
    done
    cat "$work/daemon.log" >&2
    fail "no /healthz from the installed daemon"
}
# runuser keeps a session process above the daemon: SIGTERM goes to the daemon itself (as
# systemd sends it), and runuser ends with the daemon's exit status.
stop_daemon() {
    kill -TERM "$(pgrep -P "$daemon_pid" -x pantau)"
    wait "$daemon_pid" || fail "the daemon did not exit cleanly: $(cat "$work/daemon.log")"
    daemon_pid=
}
start_daemon
say "serving at $base: $(cat "$work/healthz.json")"
grep -q '"status":"ok"' "$work/healthz.json" || fail "/healthz"
grep -q '"dir":"/var/lib/pantau/backups"' "$work/healthz.json" || fail "the packaged backups are not on"
[ "$(stat -c %U /var/lib/pantau/pantau.db)" = pantau ] || fail "the database is not the pantau user's"
# The first scheduled backup is made as soon as the daemon serves.
for _ in $(seq 100); do ls /var/lib/pantau/backups/pantau-*.db >/dev/null 2>&1 && break; sleep 0.1; done
ls /var/lib/pantau/backups/pantau-*.db >/dev/null 2>&1 || fail "no scheduled backup in /var/lib/pantau/backups"
token=$(runuser -u pantau -- /usr/bin/pantau token create dinkes --config /etc/pantau/pantau.toml 2>/dev/null)
curl -fsS -X POST "$base/api/v1/observations" -H "authorization: Bearer $token" \
    -H 'content-type: application/json' \
    --data-binary '{"observations":[{"indicator":"living.health.stunting","time":"2026-11-01","value":15.5}]}' \
    >/dev/null || fail "a department's post"

say "upgrading it over itself while it serves (dpkg -i of the same release, revision 2)"
echo '# changed by the operator' >>/etc/pantau/pantau.toml
cargo deb --profile dev --locked --fast --quiet --no-build --deb-revision 2 -o "$out/" 2>>"$work/cargo-deb.log" \
    || { cat "$work/cargo-deb.log" >&2; fail "cargo deb (revision 2)"; }
second=$(ls "$out"/pantau_*-2_amd64.deb)
dpkg -i "$second" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg -i (upgrade)"; }
pre=$(ls /var/lib/pantau/backups/pre-upgrade-*.db 2>/dev/null | head -n 1)
[ -n "$pre" ] || fail "no backup before the upgrade: $(cat "$work/dpkg.log")"
[ "$(sqlite3 "$pre" 'PRAGMA integrity_check')" = ok ] || fail "the pre-upgrade backup fails integrity_check"
[ "$(sqlite3 "$pre" "SELECT count(*) FROM observation WHERE indicator = 'living.health.stunting'")" = 1 ] \
    || fail "the pre-upgrade backup lacks the post"
grep -q '^# changed by the operator' /etc/pantau/pantau.toml || fail "the upgrade replaced a changed conffile"
stop_daemon
start_daemon
curl -fsS "$base/api/v1/indicators/living.health.stunting/series" | grep -q '"value":15.5' \
    || fail "the post is not served after the upgrade"
stop_daemon
say "upgrade kept the data: $pre"

say "purging it"
dpkg --purge pantau >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg --purge"; }
! getent passwd pantau >/dev/null || fail "the pantau user is still there"
! getent group pantau >/dev/null || fail "the pantau group is still there"
for gone in /etc/pantau /var/lib/pantau /usr/bin/pantau "$unit" /etc/systemd/system/multi-user.target.wants/pantau.service; do
    [ ! -e "$gone" ] || fail "$gone is still there after the purge"
done
say "ok: built in ${built}s, everything in $(($(date +%s) - began))s"
