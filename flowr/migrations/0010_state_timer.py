"""Timers (issue 17): ``State.due_at`` and ``State.due_rule``, indexed for
"due before now" (a partial index where the database has them).

A transition sets them in its own compare-and-set, so on PostgreSQL
``flowr_move_v2`` is replaced by ``flowr_move_v3`` (the same, with
``p_due_at`` and ``p_due_rule`` after ``p_updated``), as the contract in
:mod:`flowr.db.pgfunctions` asks.
"""

from django.db import migrations, models

import flowr.indexes
from flowr.db import pgfunctions


def forwards(apps, schema_editor):
    pgfunctions.move_v2_to_v3(schema_editor)


def backwards(apps, schema_editor):
    pgfunctions.move_v3_to_v2(schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("flowr", "0009_flownodedata_settings"),
    ]

    operations = [
        migrations.AddField(
            model_name="state",
            name="due_at",
            field=models.DateTimeField(blank=True, editable=False, null=True, verbose_name="due"),
        ),
        migrations.AddField(
            model_name="state",
            name="due_rule",
            field=models.CharField(blank=True, default="", editable=False, max_length=255, verbose_name="due rule"),
        ),
        migrations.AddIndex(
            model_name="state",
            index=flowr.indexes.SetOnlyIndex(fields=["due_at"], name="flowr_state_due"),
        ),
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
