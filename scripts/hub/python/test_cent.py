"""`cent` 5.x (PyPI, the Django-side server API client, sync `Client`)
against a real `pushwire serve`: publish, broadcast, history, presence,
channels, info, disconnect a user, errors, and `CentUnauthorizedError` on a
bad key."""

from __future__ import annotations

import asyncio

import pytest
from cent import (
    BatchRequest,
    BroadcastRequest,
    ChannelsRequest,
    Client as CentClient,
    DisconnectRequest,
    HistoryRemoveRequest,
    HistoryRequest,
    InfoRequest,
    PresenceRequest,
    PresenceStatsRequest,
    PublishRequest,
    StreamPosition,
)
from cent.exceptions import CentApiResponseError, CentUnauthorizedError
from centrifuge import Client, ClientEventHandler, DisconnectedContext, SubscriptionEventHandler

from conftest import channel, user_token, wait_for


def test_publish_returns_the_position(cent):
    ch = channel("chat", "pub")
    r1 = cent.publish(PublishRequest(channel=ch, data={"text": "hi"}))
    assert r1.offset == 1
    assert r1.epoch
    r2 = cent.publish(PublishRequest(channel=ch, data={"text": "again"}, tags={"k": "v"}))
    assert (r2.offset, r2.epoch) == (2, r1.epoch)
    # Without history: an empty result.
    r3 = cent.publish(PublishRequest(channel=channel("", "nohist"), data={"x": 1}))
    assert (r3.offset, r3.epoch) == (0, "")


def test_history(cent):
    ch = channel("chat", "hist")
    for n in range(1, 8):
        cent.publish(PublishRequest(channel=ch, data={"n": n}, tags={"i": str(n)}))
    top = cent.history(HistoryRequest(channel=ch))
    assert top.publications == []
    assert top.offset == 7
    epoch = top.epoch
    assert epoch

    every = cent.history(HistoryRequest(channel=ch, limit=-1))
    assert [p.data for p in every.publications] == [{"n": n} for n in range(1, 8)]
    assert [p.offset for p in every.publications] == list(range(1, 8))
    assert every.publications[2].tags == {"i": "3"}

    assert [p.offset for p in cent.history(HistoryRequest(channel=ch, limit=2)).publications] == [1, 2]
    assert [p.offset for p in cent.history(HistoryRequest(channel=ch, limit=2, reverse=True)).publications] == [7, 6]
    since = StreamPosition(offset=4, epoch=epoch)
    assert [p.offset for p in cent.history(HistoryRequest(channel=ch, limit=-1, since=since)).publications] == [5, 6, 7]
    with pytest.raises(CentApiResponseError) as e:
        cent.history(HistoryRequest(channel=ch, limit=-1, since=StreamPosition(offset=4, epoch="nope")))
    assert e.value.code == 112

    # skip_history: delivered, not kept.
    cent.publish(PublishRequest(channel=ch, data={"n": 99}, skip_history=True))
    assert cent.history(HistoryRequest(channel=ch)).offset == 7

    # history_remove keeps the position.
    cent.history_remove(HistoryRemoveRequest(channel=ch))
    after = cent.history(HistoryRequest(channel=ch, limit=-1))
    assert after.publications == []
    assert (after.offset, after.epoch) == (7, epoch)


def test_broadcast(cent):
    chans = [channel("chat", "b"), channel("chat", "b"), channel("", "b")]
    res = cent.broadcast(BroadcastRequest(channels=chans, data={"all": True}))
    assert len(res.responses) == 3
    assert [r.error for r in res.responses] == [None, None, None]
    assert [r.result.offset for r in res.responses[:2]] == [1, 1]
    for ch in chans[:2]:
        h = cent.history(HistoryRequest(channel=ch, limit=-1))
        assert [p.data for p in h.publications] == [{"all": True}]


def test_batch(cent):
    ch = channel("chat", "batch")
    res = cent.batch(
        BatchRequest(
            requests=[
                PublishRequest(channel=ch, data={"n": 1}),
                PublishRequest(channel=ch, data={"n": 2}),
                HistoryRequest(channel=ch, limit=-1),
            ]
        )
    )
    assert [r.offset for r in res.replies[:2]] == [1, 2]
    assert [p.data for p in res.replies[2].publications] == [{"n": 1}, {"n": 2}]


def test_api_errors(cent):
    with pytest.raises(CentApiResponseError) as e:
        cent.publish(PublishRequest(channel=channel("nosuchns", "x"), data={}))
    assert e.value.code == 102
    assert e.value.message


def test_bad_key_is_unauthorized(server):
    with CentClient(server.api_url, "not-the-key", timeout=5.0) as bad:
        with pytest.raises(CentUnauthorizedError):
            bad.publish(PublishRequest(channel="chat:x", data={}))
        with pytest.raises(CentUnauthorizedError):
            bad.info(InfoRequest())
    with CentClient(server.api_url, "", timeout=5.0) as none:
        with pytest.raises(CentUnauthorizedError):
            none.publish(PublishRequest(channel="chat:x", data={}))


class Recorder(ClientEventHandler):
    def __init__(self) -> None:
        self.disconnected: list[DisconnectedContext] = []

    async def on_disconnected(self, ctx: DisconnectedContext) -> None:
        self.disconnected.append(ctx)


def test_presence_channels_info_and_disconnect(server, cent):
    """Two SDK connections of two users subscribe; cent sees them in presence,
    channels and info, then disconnects one user and the other stays."""

    async def run():
        ch = channel("chat", "pres")
        rec_a, rec_b = Recorder(), Recorder()
        a = Client(server.ws_url, events=rec_a, token=user_token("ua"), timeout=5.0, proxy=None)
        b = Client(server.ws_url, events=rec_b, token=user_token("ub"), timeout=5.0, proxy=None)
        subs = [c.new_subscription(ch, events=SubscriptionEventHandler()) for c in (a, b)]
        for c, s in zip((a, b), subs):
            await c.connect()
            await s.subscribe()
            await s.ready(timeout=5)

        p = await asyncio.to_thread(cent.presence, PresenceRequest(channel=ch))
        assert sorted(i.user for i in p.presence.values()) == ["ua", "ub"]
        for cid, info in p.presence.items():
            assert info.client == cid
        stats = await asyncio.to_thread(cent.presence_stats, PresenceStatsRequest(channel=ch))
        assert (stats.num_clients, stats.num_users) == (2, 2)

        listed = await asyncio.to_thread(cent.channels, ChannelsRequest(pattern="chat:pres*"))
        assert ch in listed.channels
        assert listed.channels[ch].num_clients == 2
        everything = await asyncio.to_thread(cent.channels, ChannelsRequest())
        assert ch in everything.channels

        info = await asyncio.to_thread(cent.info, InfoRequest())
        assert len(info.nodes) == 1
        node = info.nodes[0]
        assert node.uid and node.name
        assert node.num_clients >= 2
        assert node.num_channels >= 1

        await asyncio.to_thread(cent.disconnect, DisconnectRequest(user="ua"))
        await wait_for(lambda: rec_a.disconnected, what="ua disconnected")
        assert rec_a.disconnected[0].code == 3503, rec_a.disconnected[0]
        await wait_for(
            lambda: cent.presence_stats(PresenceStatsRequest(channel=ch)).num_clients == 1,
            what="presence without ua",
        )
        p = await asyncio.to_thread(cent.presence, PresenceRequest(channel=ch))
        assert [i.user for i in p.presence.values()] == ["ub"]
        assert rec_b.disconnected == []
        await b.disconnect()
        await a.disconnect()

    asyncio.run(asyncio.wait_for(run(), 30))


def test_disconnect_with_a_custom_code(server, cent):
    async def run():
        rec = Recorder()
        c = Client(server.ws_url, events=rec, token=user_token("banned"), timeout=5.0, proxy=None)
        await c.connect()
        await c.ready(timeout=5)
        from cent import Disconnect

        await asyncio.to_thread(
            cent.disconnect,
            DisconnectRequest(user="banned", disconnect=Disconnect(code=4501, reason="banned")),
        )
        await wait_for(lambda: rec.disconnected, what="disconnected")
        assert (rec.disconnected[0].code, rec.disconnected[0].reason) == (4501, "banned")
        await c.disconnect()

    asyncio.run(asyncio.wait_for(run(), 30))
