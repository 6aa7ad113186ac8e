# Sourced by the demo's scripts: pick the Python that has flowr installed.
# $VENV (as `make demo` passes it, relative to the repository root) wins,
# then the repository's .venv, then python3 on the PATH.
_root="$(cd ../.. && pwd)"
if [ -n "${VENV:-}" ]; then
    case "$VENV" in /*) PY="$VENV/bin/python" ;; *) PY="$_root/$VENV/bin/python" ;; esac
elif [ -x "$_root/.venv/bin/python" ]; then
    PY="$_root/.venv/bin/python"
else
    PY="$(command -v python3)"
fi
export PY
