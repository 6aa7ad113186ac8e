"""Page-number pagination of every API list (``?page=``, ``?page_size=``)."""

from __future__ import annotations

from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request

from flowr.conf import settings


class FlowrPagination(PageNumberPagination):
    """``FLOWR["API_PAGE_SIZE"]`` rows a page (read per request); at most 500."""

    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request: Request) -> int | None:
        self.page_size = int(settings.API_PAGE_SIZE)
        return super().get_page_size(request)
