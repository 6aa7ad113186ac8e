"""The backbone is the Edge rows: the node's materialized-path columns go.

Every non-root node already has its backbone edge, so no data moves.  On
PostgreSQL migration 0002's ``flowr_load_v1`` read those columns; it is
replaced by ``flowr_load_v2`` (a node row is its id and graph; children
in creation order, node pk, where 0002 ordered by path), as 0002 asks of a
later change of the tables it touches (the text is the contract in
:mod:`flowr.db.pgfunctions`).
"""

from django.db import migrations

from flowr.db import pgfunctions

def forwards(apps, schema_editor):
    pgfunctions.load_v1_to_v2(schema_editor)


def backwards(apps, schema_editor):
    pgfunctions.load_v2_to_v1(schema_editor)


class Migration(migrations.Migration):
    dependencies = [("flowr", "0002_postgresql_transition_functions")]

    operations = [
        migrations.RunPython(forwards, backwards, elidable=False),
        migrations.RemoveIndex(model_name="node", name="flowr_node_graph_depth"),
        migrations.RemoveField(model_name="node", name="depth"),
        migrations.RemoveField(model_name="node", name="numchild"),
        migrations.RemoveField(model_name="node", name="path"),
    ]
