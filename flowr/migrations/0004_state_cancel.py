"""States can be cancelled (``State.cancelled``); history rows of kind
"jump" and "cancel"; the permissions ``jump_state`` and ``cancel_state``.

A nullable column: no data moves, and the PostgreSQL functions of 0002/0003
do not read it (a cancelled State's version moved, so their compare-and-set
refuses it).
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('flowr', '0003_backbone_edges_only'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='state',
            options={'ordering': ['-updated', '-pk'], 'permissions': [('jump_state', 'Can move a state to any node'), ('cancel_state', 'Can cancel a state')]},
        ),
        migrations.AddField(
            model_name='state',
            name='cancelled',
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AlterField(
            model_name='statehistory',
            name='kind',
            field=models.CharField(choices=[('start', 'start'), ('transition', 'transition'), ('migration', 'migration'), ('jump', 'jump'), ('cancel', 'cancel')], default='transition', max_length=16),
        ),
    ]
