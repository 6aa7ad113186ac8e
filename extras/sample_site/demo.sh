#!/usr/bin/env bash
# `make demo`: a fresh demo database every time, then the development server.
set -euo pipefail
cd "$(dirname "$0")"
bash ./resetdb.sh
exec bash ./runserver.sh
