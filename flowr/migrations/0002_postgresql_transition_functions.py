"""PostgreSQL only: a transition's two statements as PL/pgSQL functions.

PostgreSQL parses and plans every statement it is sent, unless the client
prepares it; Django's default connection does not (transaction-mode
connection poolers break prepared statements).  A PL/pgSQL function's
statements are planned once per server process and the plan kept, which no
pooler can see, so calling these costs a transition little more than the raw
UPDATE and INSERT do.  ``flowr.models.states`` calls them where they exist
(and falls back to sending the statements themselves where they do not, e.g.
a test database made without migrations).

They are versioned by name: a later change of the tables they touch adds
``_v2`` functions in a new migration.  On other databases this migration
does nothing.
"""

from django.db import migrations

LOAD = """
CREATE OR REPLACE FUNCTION flowr_load_v1(p_node bigint, p_state bigint)
RETURNS TABLE (
    state_node bigint, state_version integer,
    data_id bigint, data_node bigint, data_rule_label varchar,
    node_id bigint, node_depth integer, node_numchild integer, node_graph bigint, node_path text
)
LANGUAGE plpgsql AS $body$
BEGIN
    -- the State's row locked and re-read, with the current node's children
    RETURN QUERY
    SELECT S.current_node_id, S.version, D.id, D.node_id, D.rule_label,
           N.id, N.depth, N.numchild, N.graph_id, N.path
    FROM flowr_state S
    LEFT JOIN flowr_edge E ON E.source_id = p_node
    LEFT JOIN flowr_node N ON N.id = E.target_id
    LEFT JOIN flowr_flownodedata D ON D.node_id = N.id
    WHERE S.id = p_state
    ORDER BY N.path
    FOR UPDATE OF S NOWAIT;
END
$body$
"""

MOVE = """
CREATE OR REPLACE FUNCTION flowr_move_v1(
    p_target bigint, p_updated timestamptz, p_state bigint, p_seen_node bigint, p_seen_version integer,
    h_state bigint, h_seq integer, h_kind varchar, h_from_node bigint, h_to_node bigint,
    h_from_rule_label varchar, h_from_rule_name varchar, h_to_rule_label varchar, h_to_rule_name varchar,
    h_actor anyelement, h_actor_repr varchar, h_note text, h_created timestamptz
)
RETURNS SETOF bigint
LANGUAGE plpgsql AS $body$
BEGIN
    -- the compare-and-set; the history row only if it matched
    RETURN QUERY
    WITH moved AS (
        UPDATE flowr_state
        SET current_node_id = p_target, version = version + 1, updated = p_updated
        WHERE id = p_state AND current_node_id = p_seen_node AND version = p_seen_version
        RETURNING id
    )
    INSERT INTO flowr_statehistory (
        state_id, seq, kind, from_node_id, to_node_id, from_rule_label, from_rule_name,
        to_rule_label, to_rule_name, actor_id, actor_repr, note, created
    )
    SELECT h_state, h_seq, h_kind, h_from_node, h_to_node, h_from_rule_label, h_from_rule_name,
           h_to_rule_label, h_to_rule_name, h_actor, h_actor_repr, h_note, h_created
    FROM moved
    RETURNING flowr_statehistory.id;
END
$body$
"""

DROP = [
    "DROP FUNCTION IF EXISTS flowr_load_v1(bigint, bigint)",
    "DROP FUNCTION IF EXISTS flowr_move_v1(bigint, timestamptz, bigint, bigint, integer, bigint, integer, varchar, "
    "bigint, bigint, varchar, varchar, varchar, varchar, anyelement, varchar, text, timestamptz)",
]


def _run(schema_editor, statements):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    for statement in statements:
        schema_editor.execute(statement, params=None)
    connection.__dict__.pop("_flowr_functions", None)  # the next transition looks again


def create_functions(apps, schema_editor):
    _run(schema_editor, [LOAD, MOVE])


def drop_functions(apps, schema_editor):
    _run(schema_editor, DROP)


class Migration(migrations.Migration):
    dependencies = [("flowr", "0001_initial")]

    operations = [migrations.RunPython(create_functions, drop_functions, elidable=False)]
