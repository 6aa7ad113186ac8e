#!/usr/bin/env bash
# The package as users get it: build the sdist and the wheel (no setuptools
# warning allowed), install the wheel in a fresh virtualenv (not editable)
# and run the demo from it, static files included; install the sdist in
# another fresh virtualenv.  Needs the package registry (build, Django...).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
PYTHON=${PYTHON:-python3}
work="$(mktemp -d)"
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
unset PYTHONPATH PYTHONDONTWRITEBYTECODE
export PIP_DISABLE_PIP_VERSION_CHECK=1

echo "== building the sdist and the wheel"
"$PYTHON" -m venv "$work/build"
"$work/build/bin/pip" install -q build
"$work/build/bin/python" -m build --outdir "$work/dist" . >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
if grep -n -i -E "warning|deprecat" "$work/build.log"; then
    echo "the build printed warnings (above)"; exit 1
fi
ls "$work/dist"

echo "== the wheel in a fresh virtualenv, and the demo from it"
"$PYTHON" -m venv "$work/wheel"
"$work/wheel/bin/pip" install -q "$work"/dist/*.whl
installed="$(cd extras/sample_site && "$work/wheel/bin/python" -c 'import flowr, pathlib; print(pathlib.Path(flowr.__file__).parent)')"
case "$installed" in "$work/wheel/"*) echo "flowr imported from $installed" ;; *) echo "flowr imported from $installed, not the wheel"; exit 1 ;; esac
export FLOWR_DEMO_DB="$work/demo.sqlite3"
cd extras/sample_site
VENV="$work/wheel" bash ./resetdb.sh
port="$("$work/wheel/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$work/wheel/bin/python" manage.py runserver --noreload "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server=$!
cd "$root"
"$work/wheel/bin/python" - "$port" <<'PY' || { cat "$work/server.log"; exit 1; }
import sys, time, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}"
for _ in range(60):
    try:
        urllib.request.urlopen(base + "/", timeout=5)
        break
    except OSError:
        time.sleep(1)
for path, needle in [
    ("/", b"flowr"),
    ("/admin/login/", b"csrfmiddlewaretoken"),
    ("/static/flowr/js/editor.js", b"import"),
    ("/static/flowr/vendor/cytoscape/cytoscape.min.js", b"cytoscape"),
    ("/static/flowr/css/flowr.css", b"{"),
]:
    with urllib.request.urlopen(base + path, timeout=10) as response:
        body = response.read()
        assert response.status == 200 and needle in body, (path, response.status)
        print(f"{path}: {response.status}, {len(body)} bytes")
PY

echo "== the sdist in a fresh virtualenv"
"$PYTHON" -m venv "$work/sdist"
"$work/sdist/bin/pip" install -q "$work"/dist/*.tar.gz
(cd "$work" && "$work/sdist/bin/python" -) <<'PY'
import pathlib, flowr
root = pathlib.Path(flowr.__file__).parent
for part in ("templates/flowr/flow_editor.html", "static/flowr/js/editor.js", "schemas/flow-export.schema.json", "py.typed"):
    assert (root / part).is_file(), part
assert "site-packages" in str(root), root
print("sdist install holds templates, static files, schemas:", root)
PY
echo "package: ok"
