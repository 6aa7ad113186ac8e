"""Page-number pagination of every API list (``?page=``, ``?page_size=``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.views import APIView

from flowr.api import params
from flowr.conf import settings


class FlowrPagination(PageNumberPagination):
    """``FLOWR["API_PAGE_SIZE"]`` rows a page (read per request); at most 500.

    ``page`` and ``page_size`` are positive integers given once (anything else
    is a 400, not silently the default); a page past the last is a 404.
    """

    page_size_query_param = "page_size"
    max_page_size = 500

    def paginate_queryset(
        self, queryset: QuerySet[Any] | Sequence[Any], request: Request, view: APIView | None = None
    ) -> Any:
        params.integer(request.query_params, self.page_query_param)
        return super().paginate_queryset(queryset, request, view)

    def get_page_size(self, request: Request) -> int | None:
        self.page_size = int(settings.API_PAGE_SIZE)
        asked = params.integer(request.query_params, self.page_size_query_param)
        if asked is None:
            return self.page_size
        return min(asked, self.max_page_size)
