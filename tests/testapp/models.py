import uuid

from django.db import models

from flowr.models import BaseNodeData


class Label(BaseNodeData):
    """0.2's test data class: a node carrying a short name."""

    name = models.CharField(max_length=20)

    def __str__(self) -> str:
        return f"Label(id={self.pk} {self.name})"


class Ticket(models.Model):
    """A subject with an integer primary key."""

    title = models.CharField(max_length=100)
    status = models.CharField(max_length=30, default="new")


class Document(models.Model):
    """A subject with a UUID primary key."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    title = models.CharField(max_length=100)


class CallbackLog(models.Model):
    """Written by test rules' callbacks, to prove they roll back."""

    state_id = models.BigIntegerField()
    message = models.CharField(max_length=100)
