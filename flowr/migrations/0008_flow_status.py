"""A flow's status (issue 18): draft, in review, published, retired; and the
``flowr.publish_flow`` permission (four-eyes publishing).

Existing flows: a flow that has ever had a State (running, finished or
cancelled: it was started, so it was in use) becomes ``published``; every
other flow stays a ``draft``.  Code written before the status existed keeps
working: starting a State ignores the status unless
``FLOWR["ONLY_PUBLISHED_START"]`` is on.
"""

from django.db import migrations, models


def forwards(apps, schema_editor):
    Flow = apps.get_model("flowr", "Flow")
    State = apps.get_model("flowr", "State")
    db = schema_editor.connection.alias
    started = State.objects.using(db).values("flow_id")
    Flow.objects.using(db).filter(pk__in=started).update(status="published")


class Migration(migrations.Migration):
    dependencies = [("flowr", "0007_statehistory_data")]

    operations = [
        migrations.AlterModelOptions(
            name="flow",
            options={
                "ordering": ["name", "version", "pk"],
                "permissions": [("publish_flow", "Can publish flow")],
                "verbose_name": "flow",
                "verbose_name_plural": "flows",
            },
        ),
        migrations.AddField(
            model_name="flow",
            name="status",
            field=models.CharField(
                choices=[
                    ("draft", "draft"),
                    ("in_review", "in review"),
                    ("published", "published"),
                    ("retired", "retired"),
                ],
                default="draft",
                editable=False,
                max_length=16,
                verbose_name="status",
            ),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop, elidable=True),
    ]
