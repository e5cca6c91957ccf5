"""Everything that talks to pushwire: connection tokens (PyJWT, HS256 with the
hub's `client.token.hmac_secret_key`) and publications (`cent` 5.x, the same
client a Django project uses with Centrifugo)."""
import logging
import threading
import time

import jwt
from cent import Client, PublishRequest
from django.conf import settings

log = logging.getLogger(__name__)

_client = None
_client_lock = threading.Lock()


def channel_for(room: str) -> str:
    """The hub channel of a room: namespace `chat` in pushwire.json."""
    return f"chat:{room}"


def user_info(user) -> dict:
    """What the hub shows of a user in presence, join/leave and publications."""
    return {"name": user.get_username()}


def connection_token(user) -> str:
    """A connection JWT for a logged-in user: `sub` is the user's id."""
    now = int(time.time())
    claims = {
        "sub": str(user.pk),
        "iat": now,
        "exp": now + settings.PUSHWIRE_TOKEN_TTL,
        "info": user_info(user),
    }
    return jwt.encode(claims, settings.PUSHWIRE_HMAC_SECRET, algorithm="HS256")


def cent_client() -> Client:
    """One `cent` client per process (it keeps a `requests` session)."""
    global _client
    with _client_lock:
        if _client is None:
            _client = Client(settings.PUSHWIRE_API_URL, settings.PUSHWIRE_API_KEY, timeout=3.0)
        return _client


def publish_message(message) -> dict:
    """Publishes a saved message to its room; returns the hub's answer (offset, epoch).

    Raises `cent.CentError` (a subclass of it) when the hub refuses or cannot be reached.
    """
    result = cent_client().publish(PublishRequest(channel=channel_for(message.room), data=message.as_data()))
    return {"offset": result.offset, "epoch": result.epoch}
