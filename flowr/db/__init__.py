"""The database seam: what flowr says to each database, in one place.

Per-vendor transition statements (SQLite, PostgreSQL, MariaDB), the PL/pgSQL
functions' contract (migration 0002), lock-error classification and the one
writer of history rows.  It is given model classes by ``flowr.models`` and
imports no model (a test checks), so the models import it without a circle.
"""
