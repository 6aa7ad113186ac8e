"""Query parameters, read in one place: an id is ASCII digits that fit a
database integer (``"²".isdigit()`` is true, and ``int("²")`` fails), a text
has no NUL or lone surrogate; anything else is a 400 ``invalid``."""

from __future__ import annotations

from collections.abc import Mapping

from django.utils.translation import gettext as _
from rest_framework import serializers

from flowr.export import text_problem

#: The largest id every supported database's integer column holds (signed 64 bits).
MAX_ID = 2**63 - 1


def _invalid(name: str, message: str) -> serializers.ValidationError:
    return serializers.ValidationError({name: [message]}, code="invalid")


def integer(params: Mapping[str, str], name: str) -> int | None:
    """The parameter as a positive id, None when absent."""
    value = params.get(name)
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 19 or not 0 < int(value) <= MAX_ID:
        raise _invalid(name, "A valid integer is required.")
    return int(value)


def text(params: Mapping[str, str], name: str) -> str | None:
    """The parameter as text a database can compare with, None when absent."""
    value = params.get(name)
    if value is not None and (problem := text_problem(value)):
        raise _invalid(name, _("The value %(problem)s.") % {"problem": problem})
    return value
