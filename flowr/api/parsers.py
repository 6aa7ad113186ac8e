"""The API's one JSON parser: what no flowr surface can store or walk is a
400 ``parse_error``, and a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` a 413
``too_large``, before any view sees it (see :func:`flowr.export.parse_json`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser

from flowr.export import JSONInputError, parse_json


class RequestTooLarge(exceptions.APIException):
    """The body is larger than the project's ``DATA_UPLOAD_MAX_MEMORY_SIZE``."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = (
        "The request body is larger than DATA_UPLOAD_MAX_MEMORY_SIZE; import big flows "
        "with manage.py flowr_import, or raise the setting."
    )
    default_code = "too_large"


class FlowrJSONParser(JSONParser):
    """UTF-8 JSON, refused (400) when nested too deep or holding NUL or lone
    surrogates, and (413) when larger than ``DATA_UPLOAD_MAX_MEMORY_SIZE``."""

    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(raw) > limit:
            raise RequestTooLarge()
        try:
            return parse_json(raw)
        except JSONInputError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None
