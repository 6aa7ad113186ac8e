#!/usr/bin/env bash
# Build a fresh demo database: delete it, migrate, create the superuser
# admin/admin and load the sample rule sets, flows and states.
set -euo pipefail
cd "$(dirname "$0")"
source ./_python.sh
rm -f "${FLOWR_DEMO_DB:-demo.sqlite3}"
echo "== creating the demo database ${FLOWR_DEMO_DB:-$(pwd)/demo.sqlite3}"
"$PY" manage.py migrate --noinput -v 0
DJANGO_SUPERUSER_PASSWORD=admin "$PY" manage.py createsuperuser --noinput \
    --username admin --email admin@example.com >/dev/null
echo "== loading the sample rule sets, flows, tickets and States"
# the rules e-mail the customers: not while loading (runserver prints them)
FLOWR_DEMO_EMAIL_BACKEND=django.core.mail.backends.dummy.EmailBackend "$PY" manage.py load_demo
echo "Fresh database: ${FLOWR_DEMO_DB:-$(pwd)/demo.sqlite3} (log in as admin / admin)"
