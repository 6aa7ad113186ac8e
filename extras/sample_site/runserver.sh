#!/usr/bin/env bash
# Serve the demo on http://127.0.0.1:${PORT:-8000}/ (builds the database if missing).
set -euo pipefail
cd "$(dirname "$0")"
source ./_python.sh
[ -f "${FLOWR_DEMO_DB:-demo.sqlite3}" ] || bash ./resetdb.sh
echo "flowr demo: http://127.0.0.1:${PORT:-8000}/  (admin / admin)"
exec "$PY" manage.py runserver "127.0.0.1:${PORT:-8000}"
