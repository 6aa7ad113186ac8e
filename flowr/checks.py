"""System checks (``manage.py check``); ids are stable."""
