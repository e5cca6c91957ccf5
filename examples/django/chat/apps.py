"""The chat app: rooms of messages, pushed to browsers through pushwire."""
from django.apps import AppConfig


class ChatConfig(AppConfig):
    """Django's record of the chat app."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "chat"
