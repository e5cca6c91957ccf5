"""A chat message, kept in Django's database; pushwire only carries it."""
import re

from django.conf import settings
from django.db import models

ROOM_RE = re.compile(r"^[a-z0-9_-]{1,32}$")
MAX_TEXT = 2000


def valid_room(room: object) -> bool:
    """A room name is 1 to 32 of a-z, 0-9, '_' and '-' (so `chat:<room>` is a valid channel)."""
    return isinstance(room, str) and bool(ROOM_RE.match(room))


class Message(models.Model):
    """One message said in a room by a user."""

    room = models.CharField(max_length=32, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_messages")
    text = models.TextField(max_length=MAX_TEXT)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def as_data(self) -> dict:
        """The message as the page and the RPC see it (and as it is published)."""
        return {
            "id": self.pk,
            "room": self.room,
            "user": self.user.get_username(),
            "text": self.text,
            "created": self.created.isoformat(),
        }

    @classmethod
    def recent(cls, room: str, limit: int = 50) -> list:
        """The last `limit` messages of a room, oldest first."""
        newest = cls.objects.filter(room=room).select_related("user").order_by("-id")[:limit]
        return [m.as_data() for m in reversed(list(newest))]
