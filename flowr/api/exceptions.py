"""How the API turns every refusal into ``{"detail": str, "code": str}``.

Each :class:`~flowr.exceptions.FlowrError` keeps its stable ``code``; the
status says what kind of refusal it is: 409 when the object is in a state
that forbids the edit (a frozen flow, a flow in use, a State that moved under
the caller, a cancelled State), 403 when the user may not take the
transition (a rule's ``permission``: ``permission_denied``) or lacks the
permission a jump or cancel needs (``move_not_permitted``), 400 for every
other rule violation (a guard's veto is ``400 transition_refused``).  DRF's own errors keep their
codes (``not_authenticated``, ``permission_denied``, ``not_found``,
``method_not_allowed``...), a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` is
``413 too_large``; validation errors use ``invalid`` and add the
per-field ``errors`` and ``error_codes``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from flowr import exceptions as flowr_exceptions
from flowr.api.parsers import RequestTooLarge
from flowr.exceptions import FlowrError

#: Status of each flowr refusal that is not a plain 400 (subclasses inherit).
CONFLICTS: tuple[type[FlowrError], ...] = (
    flowr_exceptions.FlowFrozen,
    flowr_exceptions.FlowInUse,
    flowr_exceptions.ConcurrentTransition,
    flowr_exceptions.ConcurrentEdit,
    flowr_exceptions.NothingToUndo,
    flowr_exceptions.NothingToRedo,
    flowr_exceptions.StateCancelled,
    flowr_exceptions.StatusChangeNotAllowed,
    flowr_exceptions.FlowNotPublished,
)


#: Refusals of who is asking, not of what is asked: 403.
FORBIDDEN: tuple[type[FlowrError], ...] = (
    flowr_exceptions.TransitionForbidden,
    flowr_exceptions.MoveNotPermitted,
    flowr_exceptions.PublishNotPermitted,
)


def status_for(exc: FlowrError) -> int:
    """The HTTP status of a flowr refusal: 403 when the user may not take
    the transition (a rule's ``permission``) or lacks the permission a jump
    or cancel needs, 409 for conflicts, else 400."""
    if isinstance(exc, FORBIDDEN):
        return status.HTTP_403_FORBIDDEN
    return status.HTTP_409_CONFLICT if isinstance(exc, CONFLICTS) else status.HTTP_400_BAD_REQUEST


def _first_message(detail: Any, prefix: str = "") -> str:
    """``"field: message"`` of the first error in a nested DRF detail."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            label = key if key != "non_field_errors" else ""
            return _first_message(value, f"{prefix}{label}: " if label else prefix)
        return f"{prefix}Invalid input."
    if isinstance(detail, list):
        return _first_message(detail[0], prefix) if detail else f"{prefix}Invalid input."
    return f"{prefix}{detail}"


def _validation_response(exc: exceptions.ValidationError) -> Response:
    detail = exc.detail if isinstance(exc.detail, (dict, list)) else [exc.detail]
    codes = exc.get_codes()
    data = {
        "detail": _first_message(detail),
        "code": "invalid",
        "errors": detail if isinstance(detail, dict) else {"non_field_errors": detail},
        "error_codes": codes if isinstance(codes, dict) else {"non_field_errors": codes},
    }
    return Response(data, status=status.HTTP_400_BAD_REQUEST)


def _api_response(exc: exceptions.APIException) -> Response:
    headers = {}
    # APIView.handle_exception sets auth_header on 401s; Throttled has wait
    auth_header = getattr(exc, "auth_header", None)
    if auth_header:
        headers["WWW-Authenticate"] = auth_header
    wait = getattr(exc, "wait", None)
    if wait:
        headers["Retry-After"] = f"{int(wait)}"
    code = getattr(exc.detail, "code", None) or exc.default_code
    return Response({"detail": str(exc.detail), "code": str(code)}, status=exc.status_code, headers=headers)


def flowr_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF exception handler of flowr's views (set per view, not globally).

    Anything it does not know is returned as ``None`` (DRF re-raises it).
    """
    if isinstance(exc, FlowrError):
        data: dict[str, Any] = {"detail": str(exc), "code": exc.code}
        problems = getattr(exc, "problems", None)
        if problems is not None:
            data["problems"] = problems
        response = Response(data, status=status_for(exc))
    elif isinstance(exc, (ProtectedError, RestrictedError)):
        response = Response(
            {"detail": _("The object is still used by other objects and cannot be deleted."), "code": "protected"},
            status=status.HTTP_409_CONFLICT,
        )
    elif isinstance(exc, exceptions.ValidationError):
        response = _validation_response(exc)
    elif isinstance(exc, exceptions.APIException):
        response = _api_response(exc)
    elif isinstance(exc, (Http404, ObjectDoesNotExist)):
        response = _api_response(exceptions.NotFound())
    elif isinstance(exc, DjangoPermissionDenied):
        response = _api_response(exceptions.PermissionDenied())
    elif isinstance(exc, RequestDataTooBig):  # Django's own check, should a body be read before the parser
        response = _api_response(RequestTooLarge())
    else:
        return None
    set_rollback()
    return response
