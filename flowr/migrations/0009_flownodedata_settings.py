"""Node settings: ``FlowNodeData.settings`` (JSON, ``{}`` by default).

A transition reads the entered node's settings with its lock-and-load
statement, so on PostgreSQL migration 0003's ``flowr_load_v2`` is replaced by
``flowr_load_v3`` (the same, with ``data_settings`` after the rule label), as
0002 asks of a later change of the tables it touches (the text is the
contract in :mod:`flowr.db.pgfunctions`).
"""

from django.db import migrations, models

from flowr.db import pgfunctions


def forwards(apps, schema_editor):
    pgfunctions.load_v2_to_v3(schema_editor)


def backwards(apps, schema_editor):
    pgfunctions.load_v3_to_v2(schema_editor)


class Migration(migrations.Migration):
    dependencies = [("flowr", "0008_flow_status")]

    operations = [
        migrations.AddField(
            model_name="flownodedata",
            name="settings",
            field=models.JSONField(blank=True, default=dict, verbose_name="settings"),
        ),
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
