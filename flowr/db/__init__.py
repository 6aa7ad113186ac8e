"""The database seam: everything that depends on the database vendor.

Per-vendor statement builders, the PL/pgSQL functions' contract, lock-error
classification, the one history writer and fast row reads live here.  The
seam receives model metadata (model classes, ``_meta``, table names) from its
callers and imports no flowr model, so it creates no import circle.
"""
