"""Unknown URLs under the API: a JSON 404 like every other refusal."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt  # it changes nothing; a POST gets the JSON 404, not the CSRF failure page
def not_found(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"detail": _("Not found."), "code": "not_found"}, status=404)
