"""centrifuge-python (PyPI, unmodified) against a real `pushwire serve`:
connects with a PyJWT-minted HS256 token, subscribes, receives what `cent`
publishes, and recovers what it missed across a reconnect."""

from __future__ import annotations

import asyncio

from cent import PublishRequest
from centrifuge import (
    Client,
    ClientEventHandler,
    ConnectedContext,
    DisconnectedContext,
    PublicationContext,
    SubscribedContext,
    SubscriptionEventHandler,
    UnsubscribedContext,
)

from conftest import channel, user_token, wait_for


class Events(ClientEventHandler):
    def __init__(self) -> None:
        self.connected: list[ConnectedContext] = []
        self.disconnected: list[DisconnectedContext] = []

    async def on_connected(self, ctx: ConnectedContext) -> None:
        self.connected.append(ctx)

    async def on_disconnected(self, ctx: DisconnectedContext) -> None:
        self.disconnected.append(ctx)


class SubEvents(SubscriptionEventHandler):
    def __init__(self) -> None:
        self.pubs: list[PublicationContext] = []
        self.subscribed: list[SubscribedContext] = []
        self.unsubscribed: list[UnsubscribedContext] = []

    async def on_publication(self, ctx: PublicationContext) -> None:
        self.pubs.append(ctx)

    async def on_subscribed(self, ctx: SubscribedContext) -> None:
        self.subscribed.append(ctx)

    async def on_unsubscribed(self, ctx: UnsubscribedContext) -> None:
        self.unsubscribed.append(ctx)


def new_client(server, user: str, events: ClientEventHandler | None = None) -> Client:
    return Client(server.ws_url, events=events, token=user_token(user), timeout=5.0, proxy=None)


def test_subscribes_and_receives(server, cent):
    async def run():
        events = Events()
        client = new_client(server, "py1", events)
        ch = channel("chat", "py")
        sub_events = SubEvents()
        sub = client.new_subscription(ch, events=sub_events)
        await client.connect()
        await client.ready(timeout=5)
        assert events.connected and events.connected[0].client
        await sub.subscribe()
        await sub.ready(timeout=5)
        assert sub_events.subscribed[0].recoverable is True

        for n in range(1, 6):
            await asyncio.to_thread(cent.publish, PublishRequest(channel=ch, data={"n": n}, tags={"from": "cent"}))
        await wait_for(lambda: len(sub_events.pubs) == 5, what="5 publications")
        assert [p.pub.data for p in sub_events.pubs] == [{"n": n} for n in range(1, 6)]
        assert [p.pub.offset for p in sub_events.pubs] == [1, 2, 3, 4, 5]
        assert sub_events.pubs[0].pub.tags == {"from": "cent"}

        # Its own presence call lists it.
        presence = await client.presence(ch)
        me = events.connected[0].client
        assert list(presence.clients) == [me]
        assert presence.clients[me].user == "py1"
        stats = await client.presence_stats(ch)
        assert (stats.num_clients, stats.num_users) == (1, 1)

        # History through the SDK.
        h = await client.history(ch, limit=2, reverse=True)
        assert [p.offset for p in h.publications] == [5, 4]
        assert h.offset == 5

        # Publish from the SDK itself (subscribers may publish in chat).
        await sub.publish({"from": "python"})
        await wait_for(lambda: len(sub_events.pubs) == 6, what="its own publication")
        own = sub_events.pubs[5].pub
        assert own.data == {"from": "python"}
        assert own.info is not None and own.info.user == "py1"
        await client.disconnect()

    asyncio.run(asyncio.wait_for(run(), 30))


def test_recovers_across_a_reconnect(server, cent):
    async def run():
        client = new_client(server, "py2")
        ch = channel("chat", "pyrec")
        sub_events = SubEvents()
        sub = client.new_subscription(ch, events=sub_events)
        await client.connect()
        await sub.subscribe()
        await sub.ready(timeout=5)
        await asyncio.to_thread(cent.publish, PublishRequest(channel=ch, data={"n": 1}))
        await wait_for(lambda: len(sub_events.pubs) == 1, what="the first publication")

        await client.disconnect()
        for n in range(2, 22):
            await asyncio.to_thread(cent.publish, PublishRequest(channel=ch, data={"n": n}))
        await client.connect()
        await wait_for(lambda: len(sub_events.subscribed) == 2, what="the second subscribed")
        again = sub_events.subscribed[1]
        assert again.was_recovering is True, again
        assert again.recovered is True, again
        await wait_for(lambda: len(sub_events.pubs) >= 21, what="21 publications")
        await asyncio.sleep(0.3)
        assert [p.pub.data["n"] for p in sub_events.pubs] == list(range(1, 22))
        await client.disconnect()

    asyncio.run(asyncio.wait_for(run(), 30))


def test_forbidden_channel_is_unsubscribed_with_103(server):
    async def run():
        client = new_client(server, "py3")
        sub_events = SubEvents()
        sub = client.new_subscription(channel("locked", "no"), events=sub_events)
        await client.connect()
        await sub.subscribe()
        await wait_for(lambda: sub_events.unsubscribed, what="unsubscribed")
        assert sub_events.unsubscribed[0].code == 103
        await client.disconnect()

    asyncio.run(asyncio.wait_for(run(), 30))
