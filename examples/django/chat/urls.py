"""The chat app's URLs."""
from django.urls import path

from . import proxy, views

urlpatterns = [
    path("", views.home, name="home"),
    path("chat/<str:room>/", views.room, name="room"),
    path("chat/<str:room>/messages", views.send, name="send"),
    path("token", views.token, name="token"),
    path("centrifugo/connect", proxy.connect, name="proxy-connect"),
    path("centrifugo/rpc", proxy.rpc, name="proxy-rpc"),
]
