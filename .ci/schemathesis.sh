#!/usr/bin/env bash
# API fuzzing with Schemathesis against the real daemon, driven by docs/openapi.yaml.
#
# Installs Schemathesis (PyPI) into a venv under target/, starts `pantau run` with the example
# configuration, a temporary database and a free port, seeds a little data with a department
# token, then lets Schemathesis generate requests for every documented operation (valid and
# invalid ones) with the admin token. Fails when any answer is a 5xx, has a status code or
# content type the spec does not list, or a body that does not match its documented schema, or
# when the daemon logged a panic.
#
#   bash .ci/schemathesis.sh                 # 30 examples per operation (what CI runs)
#   SCHEMATHESIS_EXAMPLES=500 bash .ci/schemathesis.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION="${SCHEMATHESIS_VERSION:-4.32.5}"
EXAMPLES="${SCHEMATHESIS_EXAMPLES:-30}"
VENV=target/schemathesis-venv

if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    echo "--- installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
    if ! python3 -m venv "$VENV"; then
        echo "--- python3 cannot make a venv; installing Debian's python3-venv"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
        python3 -m venv "$VENV"
    fi
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

echo "--- building pantau"
cargo build --locked --quiet
BIN=target/debug/pantau

WORK=$(mktemp -d)
DAEMON=""
cleanup() {
    if [ -n "$DAEMON" ] && kill -0 "$DAEMON" 2>/dev/null; then
        kill -TERM "$DAEMON" 2>/dev/null || true
        wait "$DAEMON" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

ADMIN="schemathesis-admin-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
export PANTAU_CONFIG=config/pantau.toml
export PANTAU_AUTH__ADMIN_TOKEN="$ADMIN"
# Schemathesis sends thousands of writes in a few minutes; the per-token limit is tested elsewhere.
export PANTAU_SERVER__RATE_LIMIT_PER_MINUTE=100000000
export PANTAU_LOG=warn

"$BIN" run --db "$WORK/pantau.db" --listen 127.0.0.1:0 2>"$WORK/daemon.log" &
DAEMON=$!
ADDR=""
for _ in $(seq 1 200); do
    ADDR=$(sed -n 's|.*open http://\([0-9.:]*\)/.*|\1|p' "$WORK/daemon.log" | head -n 1)
    if [ -n "$ADDR" ] && curl -fsS "http://$ADDR/healthz" >/dev/null 2>&1; then
        break
    fi
    if ! kill -0 "$DAEMON" 2>/dev/null; then
        echo "pantau exited before serving:" >&2
        cat "$WORK/daemon.log" >&2
        exit 1
    fi
    sleep 0.1
done
[ -n "$ADDR" ] || { echo "pantau did not start" >&2; cat "$WORK/daemon.log" >&2; exit 1; }
echo "--- pantau serving on $ADDR"

# Some data first, so that series, revisions and notes have something to show.
DEPT=$("$BIN" token create dinkes --label schemathesis --db "$WORK/pantau.db" 2>/dev/null)
today=$(TZ=Asia/Jakarta date +%F)
post() {
    curl -fsS -o /dev/null -H "Authorization: Bearer $DEPT" -H 'Content-Type: application/json' \
        --data "$2" "http://$ADDR$1"
}
post /api/v1/observations "{\"observations\": [{\"indicator\": \"living.health.stunting\", \"time\": \"2024-06-01\", \"value\": 9.5, \"note\": \"posyandu\"}, {\"indicator\": \"living.health.stunting\", \"time\": \"$today\", \"value\": 7.1}]}"
post /api/v1/observations '{"observations": [{"indicator": "living.health.stunting", "time": "2024-06-01", "value": 9.4}]}'
post /api/v1/indicators/living.health.stunting/notes '{"kendala": "data posyandu terlambat", "rencana_tindak_lanjut": "rapat koordinasi bulanan"}'

echo "--- schemathesis run docs/openapi.yaml ($EXAMPLES examples per operation)"
status=0
ROOT=$(pwd)
# Run from the temporary folder: Schemathesis keeps a `.schemathesis/` cache in the current one.
# The operations tagged `federation` are served by a federation daemon, not by this city's; they
# are checked against their schemas over a real federation in tests/openapi.rs.
(cd "$WORK" && "$ROOT/$VENV/bin/schemathesis" run "$ROOT/docs/openapi.yaml" \
    --url "http://$ADDR" \
    --exclude-tag federation \
    --header "Authorization: Bearer $ADMIN" \
    --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance \
    --max-examples "$EXAMPLES" \
    --phases examples,coverage,fuzzing \
    --workers 2 \
    --request-timeout 20 \
    --seed "${SCHEMATHESIS_SEED:-20261128}" \
    --generation-database none \
    --report junit --report-dir "$WORK/report" \
    --output-truncate false) \
    || status=$?

if ! kill -0 "$DAEMON" 2>/dev/null; then
    echo "pantau died during the run:" >&2
    tail -n 50 "$WORK/daemon.log" >&2
    status=1
fi
if grep -q "panicked" "$WORK/daemon.log"; then
    echo "pantau logged a panic:" >&2
    grep -A5 "panicked" "$WORK/daemon.log" >&2
    status=1
fi
for report in "$WORK"/report/junit*.xml; do
    [ -f "$report" ] || continue
    echo "--- schemathesis junit: $(grep -o '<testsuite [^>]*>' "$report" | head -n 1)"
done
if [ "$status" -ne 0 ]; then
    echo "schemathesis found problems (exit $status)" >&2
    exit "$status"
fi
echo "--- schemathesis: no failures"
