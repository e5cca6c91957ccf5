"""Messages in Django's admin."""
from django.contrib import admin

from .models import Message


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    """The admin's list of messages, newest first."""

    list_display = ("created", "room", "user", "text")
    list_filter = ("room",)
    ordering = ("-id",)
