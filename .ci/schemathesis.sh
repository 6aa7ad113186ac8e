#!/usr/bin/env bash
# schemathesis against the demo: a fresh demo database, the development
# server, and `st run` over the whole API with every check and every phase
# (coverage, fuzzing, stateful).  Exit status: schemathesis's (0 = no failure).
#   VENV             the virtualenv with flowr and schemathesis (default .venv)
#   FLOWR_ST_SEED    hypothesis seed (default fixed, so a red run can be replayed)
#   FLOWR_ST_EXAMPLES  examples per operation and phase (default 25)
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
VENV=${VENV:-.venv}
case "$VENV" in /*) ;; *) VENV="$root/$VENV" ;; esac
py="$VENV/bin/python"
work="$(mktemp -d)"
port="$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export FLOWR_DEMO_DB="$work/demo.sqlite3"
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

cd extras/sample_site
VENV="$VENV" bash ./resetdb.sh >/dev/null
# "Generated token <key> for user admin"
token="$("$py" manage.py drf_create_token admin | awk '{print $3}')"
"$py" manage.py runserver --noreload "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server=$!
cd "$root"

schema="$work/schema.json"
for _ in $(seq 60); do
    if "$py" - "$port" "$token" "$schema" <<'PY' 2>/dev/null; then break; fi
import sys, urllib.request
port, token, path = sys.argv[1:]
request = urllib.request.Request(
    f"http://127.0.0.1:{port}/flowr/api/schema/?format=json", headers={"Authorization": f"Token {token}"}
)
with urllib.request.urlopen(request, timeout=5) as response, open(path, "wb") as out:
    out.write(response.read())
PY
    sleep 1
done
[ -s "$schema" ] || { echo "the demo server did not answer"; cat "$work/server.log"; exit 1; }

FLOWR_ST_TOKEN="$token" "$VENV/bin/st" --config-file .ci/schemathesis.toml run "$schema" \
    --url "http://127.0.0.1:$port" --checks all --workers 1 \
    --max-examples "${FLOWR_ST_EXAMPLES:-25}" --seed "${FLOWR_ST_SEED:-20261129}" --no-color
