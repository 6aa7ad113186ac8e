"""The database seam: what flowr says to each database, in one place.

Per-vendor statements for transitions and graph writes (SQLite, PostgreSQL,
MariaDB), the PL/pgSQL functions' contract, lock-error classification, the one
writer of history rows and fast row reads.  It is given model classes by its
callers and imports no model (a test checks), so nothing imports in a circle.
"""
