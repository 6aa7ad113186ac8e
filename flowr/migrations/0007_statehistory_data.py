"""A transition's data: ``StateHistory.data`` (JSON, null when none was given).

On PostgreSQL migration 0002's ``flowr_move_v1`` writes the history row
without it: it is replaced by ``flowr_move_v2`` (the same, with ``h_data``
after ``h_note``), as 0002 asks of a later change of the tables it touches
(the text is the contract in :mod:`flowr.db.pgfunctions`).
"""

from django.db import migrations, models

from flowr.db import pgfunctions


def forwards(apps, schema_editor):
    pgfunctions.move_v1_to_v2(schema_editor)


def backwards(apps, schema_editor):
    pgfunctions.move_v2_to_v1(schema_editor)


class Migration(migrations.Migration):
    dependencies = [("flowr", "0006_flow_edits")]

    operations = [
        migrations.AddField(
            model_name="statehistory",
            name="data",
            field=models.JSONField(blank=True, default=None, null=True, verbose_name="data"),
        ),
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
