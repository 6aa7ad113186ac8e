"""Query parameters, read in one place: an id is ASCII digits that fit a
database integer (``"²".isdigit()`` is true, and ``int("²")`` fails), a text
has no NUL or lone surrogate, and each is given at most once; anything else
is a 400 ``invalid``."""

from __future__ import annotations

from django.http import QueryDict
from django.utils.translation import gettext as _
from rest_framework import serializers

from flowr.export import text_problem

#: The largest id every supported database's integer column holds (signed 64 bits).
MAX_ID = 2**63 - 1


def _invalid(name: str, message: str) -> serializers.ValidationError:
    return serializers.ValidationError({name: [message]}, code="invalid")


def single(params: QueryDict, name: str) -> str | None:
    """The parameter's one value, None when absent; given twice is refused."""
    values = params.getlist(name)
    if len(values) > 1:
        raise _invalid(name, _("Give %(name)s once, not %(count)s times.") % {"name": name, "count": len(values)})
    return values[0] if values else None


def integer(params: QueryDict, name: str, maximum: int = MAX_ID) -> int | None:
    """The parameter as a positive integer up to ``maximum``, None when absent."""
    value = single(params, name)
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 19 or not 0 < int(value) <= maximum:
        raise _invalid(name, _("A valid integer is required."))
    return int(value)


def text(params: QueryDict, name: str) -> str | None:
    """The parameter as text a database can compare with, None when absent."""
    value = single(params, name)
    if value is not None and (problem := text_problem(value)):
        raise _invalid(name, _("The value %(problem)s.") % {"problem": problem})
    return value


def boolean(params: QueryDict, name: str) -> bool | None:
    """The parameter as ``true``/``false`` (or ``1``/``0``), None when absent."""
    value = single(params, name)
    if value is None:
        return None
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise _invalid(name, _("Must be a valid boolean."))
