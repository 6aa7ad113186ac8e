#!/usr/bin/env python
"""The demo project's manage.py (run it from this directory)."""

import os
import sys
from pathlib import Path

if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    sys.path.insert(0, str(here))
    try:
        import flowr  # noqa: F401
    except ImportError:  # not installed: use the checkout this demo lives in
        sys.path.insert(1, str(here.parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sample_site.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
