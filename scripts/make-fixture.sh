#!/usr/bin/env bash
# Makes tests/fixtures/v2: a database written by pantau 0.1.0 (schema version 2) for the example
# city, through the real binary as a city would fill it: a CSV import, department and admin
# posts with corrections (revisions), notes, tokens (one revoked), feed runs (two good, one
# failed) and the change log those commits leave. Beside it: the plan and settings it was made
# from, `pantau export` of it (observations.csv) and facts.json (what the upgrade test checks).
#
# DO NOT REGENERATE THIS FIXTURE FOR A LATER RELEASE. It is the old data that every later
# schema must migrate without loss (tests/operations.rs opens a copy of it with the current
# code). A later release that changes the schema adds a fixture of its own (v3, ...) made with
# its own copy of this script, and keeps this one.
#
# Needs: cargo, python3 (serves the feed), curl, jq, sqlite3. Run from anywhere:
#   PANTAU_FIXTURE_FORCE=1 bash scripts/make-fixture.sh    (refuses without it if v2 exists)
set -euo pipefail
cd "$(dirname "$0")/.."
out=tests/fixtures/v2
if [ -e "$out/pantau.db" ] && [ "${PANTAU_FIXTURE_FORCE:-}" != 1 ]; then
    echo "make-fixture: $out/pantau.db exists and must not be regenerated (see this script's header)" >&2
    exit 2
fi
cargo build --quiet --bin pantau
bin="$PWD/target/debug/pantau"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$out"

# Ports below the ephemeral range, so that nothing a test starts can ever answer on them.
daemon_port=18930
feed_port=18931
admin=fixture-admin-token-0123456789abcdef

cp config/masterplan.toml "$work/masterplan.toml"
cat >>"$work/masterplan.toml" <<EOF

# The feed the fixture's feed runs come from (Dinkes' immunisation figure as JSON).
[[feed]]
id = "dinkes-imunisasi"
department = "dinkes"
url = "http://127.0.0.1:$feed_port/imunisasi.json"
format = "json"
schedule = "0 0 1 1 *"
run_at_start = true
timeout = "2s"
[feed.json]
points = [{ indicator = "living.health.immunization", value = "/nilai", time = "/waktu" }]
EOF
cat >"$work/pantau.toml" <<EOF
# The settings tests/fixtures/v2/pantau.db was made with (scripts/make-fixture.sh).
masterplan = "masterplan.toml"
[server]
listen = "127.0.0.1:0"
rate_limit_per_minute = 100000
[storage]
database = "pantau.db"
[city]
name = "Kota Mojokerto"
time_zone = "Asia/Jakarta"
[auth]
admin_token = "$admin"
EOF
export PANTAU_LOG=warn
cfg="$work/pantau.toml"
base="http://127.0.0.1:$daemon_port"

mkdir -p "$work/feed"
serve_feed() {
    printf '{"nilai": %s, "waktu": "%s"}\n' "$1" "$2" >"$work/feed/imunisasi.json"
    (cd "$work/feed" && exec python3 -m http.server "$feed_port" --bind 127.0.0.1 >/dev/null 2>&1) &
    feed_pid=$!
    for _ in $(seq 50); do curl -fs "http://127.0.0.1:$feed_port/imunisasi.json" >/dev/null && return; sleep 0.1; done
    echo "make-fixture: the feed server did not start" >&2; exit 1
}
start_daemon() {
    "$bin" run --config "$cfg" --listen "127.0.0.1:$daemon_port" 2>>"$work/daemon.log" &
    daemon_pid=$!
    for _ in $(seq 100); do curl -fs "$base/healthz" >/dev/null && return; sleep 0.1; done
    cat "$work/daemon.log" >&2; exit 1
}
stop_daemon() {
    kill -TERM "$daemon_pid"; wait "$daemon_pid"
}

# Tokens, made before the daemon runs (the database is created here).
dinkes=$("$bin" token create dinkes --label "Seksi Surveilans" --create --config "$cfg" 2>/dev/null)
dlh=$("$bin" token create dlh --label "Bidang Tata Lingkungan" --config "$cfg" 2>/dev/null)
revoked=$("$bin" token create diskominfo --label "laptop hilang" --config "$cfg" 2>/dev/null)

serve_feed 93.5 2026-10-31
start_daemon
curl -fs "$base/api/v1/masterplan" >"$work/plan.json"

# History: 40 weekly values per indicator toward its target, inside its bounds; imported with
# `pantau import` beside the running daemon.
python3 - "$work/plan.json" >"$work/history.csv" <<'PY'
import json, sys, datetime
plan = json.load(open(sys.argv[1]))
end = datetime.date(2026, 11, 23)
print("indicator,time,value,note")
for n, ind in enumerate(plan["indicators"]):
    b = ind["baseline"]["value"]
    t = ind["targets"][-1]["value"]
    start = datetime.date.fromisoformat(ind["baseline"]["date"])
    lo, hi = ind.get("min"), ind.get("max")
    for k in range(40):
        day = end - datetime.timedelta(weeks=39 - k)
        if day <= start:
            continue
        wobble = ((n * 7 + k * 13) % 11 - 5) / 100.0
        if ind["kind"] == "level":
            v = b + (t - b) * (0.3 + 0.5 * k / 39 + wobble)
        else:
            v = abs(t - b) / 120.0 * (1.0 + wobble)
        if lo is not None: v = max(lo, v)
        if hi is not None: v = min(hi, v)
        note = "rekap mingguan, \"final\"" if k % 10 == 0 else ""
        print(f'{ind["id"]},{day.isoformat()},{round(v, 3)},"{note.replace(chr(34), chr(34) * 2)}"')
PY
"$bin" import "$work/history.csv" --config "$cfg" >/dev/null

post() { # token, body
    curl -fs -o /dev/null -X POST "$base/api/v1/observations" -H "authorization: Bearer $1" \
        -H 'content-type: application/json' --data-binary "$2"
}
# Corrections (revisions): Dinkes corrects its own figures, the admin corrects others'.
for ind in living.health.stunting living.health.immunization; do
    body=$(awk -F, -v ind="$ind" 'NR > 1 && $1 == ind { printf "%s{\"indicator\":\"%s\",\"time\":\"%s\",\"value\":%s}", (n++ ? "," : ""), $1, $2, $3 + 0.25 }' "$work/history.csv")
    post "$dinkes" "{\"observations\":[$body]}"
done
body=$(awk -F, 'NR > 1 && NR % 37 == 0 { printf "%s{\"indicator\":\"%s\",\"time\":\"%s\",\"value\":%s,\"note\":\"koreksi Bappeda\"}", (n++ ? "," : ""), $1, $2, $3 * 0.99 }' "$work/history.csv")
post "$admin" "{\"observations\":[$body]}"
# DLH posts today's air figures as CSV (Indonesian Excel style: `;` and decimal commas).
printf 'indikator;waktu;nilai;catatan\nenv.air.ispu-mean;2026-11-30;48,5;stasiun alun-alun\n' |
    curl -fs -o /dev/null -X POST "$base/api/v1/observations" -H "authorization: Bearer $dlh" \
        -H 'content-type: text/csv' --data-binary @-
# Notes (kendala and rencana tindak lanjut).
for k in 1 2 3; do
    curl -fs -o /dev/null -X POST "$base/api/v1/indicators/living.health.stunting/notes" \
        -H "authorization: Bearer $dinkes" -H 'content-type: application/json' \
        --data-binary "{\"kendala\":\"data posyandu terlambat ($k)\",\"rencana_tindak_lanjut\":\"rapat koordinasi ke-$k\"}"
done
stop_daemon

# A failed feed run: the upstream is down at start.
kill "$feed_pid"; wait "$feed_pid" 2>/dev/null || true
start_daemon
sleep 3
stop_daemon
# And a good one again.
serve_feed 94.1 2026-11-30
start_daemon
sleep 1
stop_daemon
kill "$feed_pid"; wait "$feed_pid" 2>/dev/null || true

revoked_id=$("$bin" token list --config "$cfg" 2>/dev/null | awk '$2 == "diskominfo" { print $1 }')
"$bin" token revoke "$revoked_id" --config "$cfg" >/dev/null 2>&1
if [ -e "$work/pantau.db-wal" ] && [ -s "$work/pantau.db-wal" ]; then
    echo "make-fixture: the database was not checkpointed on stop" >&2; exit 1
fi
"$bin" export "$work/observations.csv" --config "$cfg" 2>/dev/null

db="$work/pantau.db"
q() { sqlite3 "$db" "$1"; }
jq -n \
    --argjson observations "$(q 'SELECT count(*) FROM observation')" \
    --argjson revisions "$(q 'SELECT count(*) FROM revision')" \
    --argjson notes_on_it "$(q "SELECT count(*) FROM note WHERE indicator = 'living.health.stunting'")" \
    --argjson feed_runs "$(q 'SELECT count(*) FROM feed_run')" \
    --argjson failed_feed_runs "$(q 'SELECT count(*) FROM feed_run WHERE error IS NOT NULL')" \
    --argjson changes "$(q 'SELECT count(*) FROM change')" \
    --argjson tokens "$(q 'SELECT count(*) FROM token')" \
    --argjson schema_version "$(q 'PRAGMA user_version')" \
    --arg token "$dinkes" --arg revoked_token "$revoked" \
    '{release: "0.1.0", schema_version: $schema_version, observations: $observations,
      revisions: $revisions, note_indicator: "living.health.stunting", notes_on_it: $notes_on_it,
      feed: "dinkes-imunisasi", feed_runs: $feed_runs, failed_feed_runs: $failed_feed_runs,
      changes: $changes, tokens: $tokens,
      token: $token, token_indicator: "living.health.stunting", revoked_token: $revoked_token}' \
    >"$work/facts.json"

cp "$db" "$work/masterplan.toml" "$work/pantau.toml" "$work/observations.csv" "$work/facts.json" "$out/"
ls -l "$out"
cat "$out/facts.json"
