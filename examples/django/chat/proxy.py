"""The hub's backend proxy: pushwire POSTs JSON here (Centrifugo's proxy
protocol) and acts on the answer.

- `/centrifugo/connect`: a client connecting without a token. pushwire
  forwards the browser's `Cookie` header (`http_headers` in pushwire.json),
  so Django's session and auth middleware know the user as for any page.
  Answer `{"result": {"user": …}}`, or a `disconnect` for an anonymous one.
- `/centrifugo/rpc`: a client's `rpc` call; `room_history` answers the last
  messages of a room from the database.

These URLs are for the hub only: pushwire adds the header
`X-Pushwire-Proxy-Key` (`static_headers` in pushwire.json) to every call,
and a call without `settings.PUSHWIRE_PROXY_KEY` in it gets 403.
"""
import functools
import hmac
import json
import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import realtime
from .models import Message, valid_room

log = logging.getLogger(__name__)

# Disconnect codes 4500-4999 are terminal: the client does not reconnect.
UNAUTHORIZED = {"disconnect": {"code": 4501, "reason": "unauthorized"}}
MAX_HISTORY = 100


def from_hub(view):
    """Lets a call through only with the hub's proxy key in `X-Pushwire-Proxy-Key`."""

    @functools.wraps(view)
    def checked(request: HttpRequest) -> JsonResponse:
        sent = request.headers.get("X-Pushwire-Proxy-Key", "")
        if not hmac.compare_digest(sent.encode(), settings.PUSHWIRE_PROXY_KEY.encode()):
            return JsonResponse({"error": "not from the hub"}, status=403)
        return view(request)

    return checked


def _body(request: HttpRequest):
    try:
        body = json.loads(request.body)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _error(code: int, message: str) -> JsonResponse:
    """An application error for the client (codes 400-1999 are the backend's)."""
    return JsonResponse({"error": {"code": code, "message": message}})


@csrf_exempt
@require_POST
@from_hub
def connect(request: HttpRequest) -> JsonResponse:
    """Authenticates a connection by the Django session cookie it came with."""
    if _body(request) is None:
        return JsonResponse({"error": "body is not a JSON object"}, status=400)
    user = request.user
    if not user.is_authenticated:
        return JsonResponse(UNAUTHORIZED)
    log.info("connect proxy: %s", user.get_username())
    return JsonResponse({"result": {"user": str(user.pk), "info": realtime.user_info(user)}})


@csrf_exempt
@require_POST
@from_hub
def rpc(request: HttpRequest) -> JsonResponse:
    """Answers a client's RPC call: `room_history` `{"room": …, "limit": n}`."""
    body = _body(request)
    if body is None:
        return JsonResponse({"error": "body is not a JSON object"}, status=400)
    user_id = body.get("user")
    if not isinstance(user_id, str) or not user_id.isdigit():
        return _error(403, "permission denied")
    if not get_user_model().objects.filter(pk=int(user_id), is_active=True).exists():
        return _error(403, "permission denied")
    method = body.get("method")
    data = body.get("data") or {}
    if method != "room_history":
        return _error(404, f"unknown method {method!r}")
    if not isinstance(data, dict) or not valid_room(data.get("room")):
        return _error(400, "room_history needs {\"room\": name}")
    limit = data.get("limit", 50)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_HISTORY:
        return _error(400, f"limit: 1 to {MAX_HISTORY}")
    room = data["room"]
    return JsonResponse({"result": {"data": {"room": room, "messages": Message.recent(room, limit)}}})
