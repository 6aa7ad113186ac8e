"""PostgreSQL only: a transition's two statements as PL/pgSQL functions.

The functions' text, names and layout are the contract in
:mod:`flowr.db.pgfunctions`, which the runtime and the tests read too.  Its
``_v1`` text is frozen (a test holds its digest), so this migration does
what it always did; a later change of the tables they touch adds ``_v2``
functions in a new migration.  On other databases this migration does
nothing.
"""

from django.db import migrations

from flowr.db import pgfunctions


def create_functions(apps, schema_editor):
    pgfunctions.create_v1(schema_editor)


def drop_functions(apps, schema_editor):
    pgfunctions.drop_v1(schema_editor)


class Migration(migrations.Migration):
    dependencies = [("flowr", "0001_initial")]

    operations = [migrations.RunPython(create_functions, drop_functions, elidable=False)]
