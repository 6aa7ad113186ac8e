"""The backbone is the Edge rows: the node's materialized-path columns go.

Every non-root node already has its backbone edge, so no data moves.  On
PostgreSQL migration 0002's ``flowr_load_v1`` read those columns; it is
replaced by ``flowr_load_v2`` (a node row is its id and graph; children
in creation order, node pk, where 0002 ordered by path), as 0002 asks of a
later change of the tables it touches.
"""

from django.db import migrations

LOAD_V2 = """
CREATE OR REPLACE FUNCTION flowr_load_v2(p_node bigint, p_state bigint)
RETURNS TABLE (
    state_node bigint, state_version integer,
    data_id bigint, data_node bigint, data_rule_label varchar,
    node_id bigint, node_graph bigint
)
LANGUAGE plpgsql AS $body$
BEGIN
    -- the State's row locked and re-read, with the current node's children
    RETURN QUERY
    SELECT S.current_node_id, S.version, D.id, D.node_id, D.rule_label,
           N.id, N.graph_id
    FROM flowr_state S
    LEFT JOIN flowr_edge E ON E.source_id = p_node
    LEFT JOIN flowr_node N ON N.id = E.target_id
    LEFT JOIN flowr_flownodedata D ON D.node_id = N.id
    WHERE S.id = p_state
    ORDER BY N.id
    FOR UPDATE OF S NOWAIT;
END
$body$
"""
DROP_V1 = "DROP FUNCTION IF EXISTS flowr_load_v1(bigint, bigint)"
DROP_V2 = "DROP FUNCTION IF EXISTS flowr_load_v2(bigint, bigint)"


def _run(schema_editor, statements):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    for statement in statements:
        schema_editor.execute(statement, params=None)
    connection.__dict__.pop("_flowr_functions", None)  # the next transition looks again


def forwards(apps, schema_editor):
    _run(schema_editor, [DROP_V1, LOAD_V2])


def backwards(apps, schema_editor):
    # 0002's flowr_load_v1 reads the columns put back after this step runs
    # (operations reverse in order); it is re-created by re-applying 0002.
    _run(schema_editor, [DROP_V2])


class Migration(migrations.Migration):
    dependencies = [("flowr", "0002_postgresql_transition_functions")]

    operations = [
        migrations.RunPython(forwards, backwards, elidable=False),
        migrations.RemoveIndex(model_name="node", name="flowr_node_graph_depth"),
        migrations.RemoveField(model_name="node", name="depth"),
        migrations.RemoveField(model_name="node", name="numchild"),
        migrations.RemoveField(model_name="node", name="path"),
    ]
