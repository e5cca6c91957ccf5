"""`manage.py demo_users`: creates (or resets) the example's demo users."""
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

DEMO_USERS = [("alice", "alice-password"), ("bob", "bob-password")]


class Command(BaseCommand):
    """Creates alice and bob, with the passwords the README gives."""

    help = "Create the demo users alice and bob (passwords alice-password, bob-password)."

    def handle(self, *args, **options) -> None:
        users = get_user_model()
        for name, password in DEMO_USERS:
            user, created = users.objects.get_or_create(username=name)
            user.set_password(password)
            user.is_active = True
            user.save()
            self.stdout.write(f"{'created' if created else 'reset'} {name} / {password}")
