"""The pages and the browser's endpoints: the chat page (with a connection
token for the logged-in user), a fresh token, and posting a message (saved,
then published through `cent`)."""
import json
import logging

from cent import CentError
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from . import realtime
from .models import MAX_TEXT, Message, valid_room

log = logging.getLogger(__name__)


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The lobby."""
    return redirect("room", room="lobby")


@login_required
@require_GET
def room(request: HttpRequest, room: str) -> HttpResponse:
    """The chat page of a room: the last messages, and what the page needs to
    connect to the hub (its URL, a token, the room's channel)."""
    if not valid_room(room):
        raise Http404("no such room")
    config = {
        "hub": settings.PUSHWIRE_URL,
        "token": realtime.connection_token(request.user),
        "tokenUrl": request.build_absolute_uri("/token"),
        "channel": realtime.channel_for(room),
        "room": room,
        "sendUrl": request.build_absolute_uri(f"/chat/{room}/messages"),
        "user": request.user.get_username(),
    }
    context = {
        "room": room,
        "messages": Message.recent(room),
        "config": config,
        "pushwire_js": settings.PUSHWIRE_URL + "/pushwire.js",
    }
    return render(request, "chat/room.html", context)


@require_GET
def token(request: HttpRequest) -> JsonResponse:
    """A fresh connection token for the logged-in user (the page's `getToken`)."""
    if not request.user.is_authenticated:
        return JsonResponse({"error": "login required"}, status=403)
    return JsonResponse({"token": realtime.connection_token(request.user)})


@require_POST
def send(request: HttpRequest, room: str) -> JsonResponse:
    """Saves a message said in a room, then publishes it to the room's channel.

    Body: JSON `{"text": "…"}` (or a form field `text`); Django's CSRF check applies.
    201 with the message once published; 503 when saved but the hub refused
    or was unreachable (the message stays in the database: the room's history
    RPC returns it).
    """
    if not request.user.is_authenticated:
        return JsonResponse({"error": "login required"}, status=403)
    if not valid_room(room):
        return JsonResponse({"error": "no such room"}, status=404)
    if request.content_type == "application/json":
        try:
            body = json.loads(request.body)
        except ValueError:
            return JsonResponse({"error": "body is not JSON"}, status=400)
        text = body.get("text") if isinstance(body, dict) else None
    else:
        text = request.POST.get("text")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
        return JsonResponse({"error": f"text: 1 to {MAX_TEXT} characters"}, status=400)
    message = Message.objects.create(room=room, user=request.user, text=text.strip())
    try:
        position = realtime.publish_message(message)
    except CentError as e:
        log.warning("message %s saved but not published: %r", message.pk, e)
        return JsonResponse({"message": message.as_data(), "error": f"not published: {e}"}, status=503)
    return JsonResponse({"message": message.as_data(), **position}, status=201)
