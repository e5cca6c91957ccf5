"""The Django example end to end, with real clients: `requests` as the
browser's side of Django (login, the chat page, the token, posting a
message), centrifuge-python (PyPI, unmodified) as the page's real-time
client, against a running Django dev server and `pushwire serve` with the
example's configuration (scripts/examples/django.sh starts both).

    DJANGO_URL=http://127.0.0.1:8000 PUSHWIRE_URL=http://127.0.0.1:8080 python check/e2e.py

Each check prints `ok` or `FAILED` and why; the last line counts them. Exits
non-zero when any failed.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import sys
import time
import traceback

import jwt
import requests
from centrifuge import (
    Client,
    ClientEventHandler,
    ConnectedContext,
    DisconnectedContext,
    JoinContext,
    PublicationContext,
    ReplyError,
    SubscriptionEventHandler,
)

DJANGO = os.environ.get("DJANGO_URL", "http://127.0.0.1:8000").rstrip("/")
HUB = os.environ.get("PUSHWIRE_URL", "http://127.0.0.1:8080").rstrip("/")
WS = HUB.replace("http", "ws", 1) + "/connection/websocket"
TIMEOUT = 5.0
ROOM = "e2e-" + secrets.token_hex(4)
CHANNEL = f"chat:{ROOM}"

results: list[tuple[str, str | None]] = []


def check(name: str, cond: bool, detail: str = "") -> None:
    """Records one check; a failed one does not stop the others."""
    results.append((name, None if cond else (detail or "condition false")))
    print(f"{'ok    ' if cond else 'FAILED'} {name}" + ("" if cond else f": {detail}"), flush=True)


def login(user: str, password: str) -> requests.Session:
    """Logs in through Django's login form, as a browser does (CSRF cookie and field)."""
    s = requests.Session()
    page = s.get(f"{DJANGO}/accounts/login/", timeout=TIMEOUT)
    page.raise_for_status()
    r = s.post(
        f"{DJANGO}/accounts/login/",
        data={"username": user, "password": password, "csrfmiddlewaretoken": s.cookies["csrftoken"], "next": "/"},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    if r.status_code != 302 or "sessionid" not in s.cookies:
        raise RuntimeError(f"login as {user} failed: HTTP {r.status_code}")
    return s


def cookie_header(s: requests.Session) -> str:
    return "; ".join(f"{c.name}={c.value}" for c in s.cookies)


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
        self.joins: list[JoinContext] = []

    async def on_publication(self, ctx: PublicationContext) -> None:
        self.pubs.append(ctx)

    async def on_join(self, ctx: JoinContext) -> None:
        self.joins.append(ctx)


async def wait_for(cond, timeout: float = TIMEOUT) -> bool:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def connected(client: Client, events: Events) -> tuple[bool, str]:
    """Connects and waits until connected; (False, why) otherwise."""
    await client.connect()
    try:
        await client.ready(timeout=TIMEOUT)
        return True, ""
    except Exception as e:  # noqa: BLE001 - reported as the check's detail
        why = f"{type(e).__name__}: {e}"
        if events.disconnected:
            d = events.disconnected[-1]
            why += f" (disconnected {d.code} {d.reason})"
        return False, why


async def refused(headers: dict[str, str]) -> tuple[bool, str]:
    """Connects without a token; True when the hub refuses with Django's 4501."""
    events = Events()
    client = Client(WS, events=events, timeout=TIMEOUT, headers=headers, proxy=None)
    try:
        await client.connect()
        await wait_for(lambda: events.disconnected or events.connected)
        if events.connected:
            return False, "connected"
        if not events.disconnected:
            return False, "neither connected nor disconnected"
        d = events.disconnected[-1]
        return d.code == 4501, f"disconnected {d.code} {d.reason!r}, want 4501"
    finally:
        await client.disconnect()


async def rpc(client: Client, method: str, data) -> tuple[object, int | None]:
    """(data, None) or (None, error code)."""
    try:
        return (await client.rpc(method, data, timeout=TIMEOUT)).data, None
    except ReplyError as e:
        return None, e.code


async def main() -> None:
    # Django's side, as a browser sees it.
    alice = await asyncio.to_thread(login, "alice", "alice-password")
    bob = await asyncio.to_thread(login, "bob", "bob-password")
    anon = requests.Session()

    r = await asyncio.to_thread(alice.get, f"{DJANGO}/chat/{ROOM}/", timeout=TIMEOUT)
    m = re.search(r'<script id="pushwire-config" type="application/json">(.*?)</script>', r.text, re.S)
    page = json.loads(m.group(1)) if m else {}
    check("chat page: 200 with the hub's client and a token", r.status_code == 200 and f"{HUB}/pushwire.js" in r.text
          and page.get("channel") == CHANNEL and bool(page.get("token")), f"HTTP {r.status_code}, config {page}")
    r = await asyncio.to_thread(anon.get, f"{DJANGO}/chat/{ROOM}/", allow_redirects=False, timeout=TIMEOUT)
    check("chat page: anonymous is sent to the login", r.status_code == 302 and "/accounts/login/" in r.headers.get("Location", ""),
          f"HTTP {r.status_code}")
    r = await asyncio.to_thread(anon.get, f"{DJANGO}/token", timeout=TIMEOUT)
    check("token view: anonymous gets 403", r.status_code == 403, f"HTTP {r.status_code}")
    r = await asyncio.to_thread(alice.get, f"{DJANGO}/token", timeout=TIMEOUT)
    token = r.json().get("token", "") if r.ok else ""
    claims = jwt.decode(token, options={"verify_signature": False}) if token else {}
    check("token view: a JWT for alice", r.status_code == 200 and claims.get("sub", "").isdigit() and claims.get("exp", 0) > time.time(),
          f"HTTP {r.status_code}, claims {claims}")
    alice_id = claims.get("sub", "")

    # alice: connects with the token from the Django view.
    a_events, a_sub_events = Events(), SubEvents()
    a = Client(WS, events=a_events, token=token, timeout=TIMEOUT, proxy=None)
    a_sub = a.new_subscription(CHANNEL, events=a_sub_events)
    # bob: connects without a token; the hub asks Django's connect proxy, with bob's session cookie.
    b_events, b_sub_events = Events(), SubEvents()
    b = Client(WS, events=b_events, timeout=TIMEOUT, headers={"Cookie": cookie_header(bob)}, proxy=None)
    b_sub = b.new_subscription(CHANNEL, events=b_sub_events)
    try:
        ok, why = await connected(a, a_events)
        check("token: alice connects with the token", ok, why)
        if ok:
            await a_sub.subscribe()
            try:
                await a_sub.ready(timeout=TIMEOUT)
                check(f"token: alice subscribes to {CHANNEL}", True)
            except Exception as e:  # noqa: BLE001
                check(f"token: alice subscribes to {CHANNEL}", False, repr(e))

        ok_b, why = await connected(b, b_events)
        check("connect proxy: bob connects with his session cookie", ok_b, why)
        bob_id = ""
        if ok_b:
            await b_sub.subscribe()
            try:
                await b_sub.ready(timeout=TIMEOUT)
                check(f"connect proxy: bob subscribes to {CHANNEL}", True)
            except Exception as e:  # noqa: BLE001
                check(f"connect proxy: bob subscribes to {CHANNEL}", False, repr(e))
            if ok:
                joined = await wait_for(lambda: any(j.info.conn_info == {"name": "bob"} for j in a_sub_events.joins))
                check("connect proxy: alice sees bob join, with the info Django gave",
                      joined, f"joins {[(j.info.user, j.info.conn_info) for j in a_sub_events.joins]}")
                if joined:
                    bob_id = next(j.info.user for j in a_sub_events.joins if j.info.conn_info == {"name": "bob"})
        if ok:
            presence = await a_sub.presence()
            users = sorted((c.user, json.dumps(c.conn_info)) for c in presence.clients.values())
            want = sorted([(alice_id, json.dumps({"name": "alice"}))] + ([(bob_id, json.dumps({"name": "bob"}))] if ok_b else []))
            check("presence: the users Django named", users == want, f"{users}, want {want}")

        # A message posted to Django: saved, published with cent, delivered by the hub.
        text = "hello from Django " + secrets.token_hex(3)
        csrf = alice.cookies["csrftoken"]
        r = await asyncio.to_thread(alice.post, f"{DJANGO}/chat/{ROOM}/messages", json={"text": text},
                                    headers={"X-CSRFToken": csrf, "Referer": f"{DJANGO}/chat/{ROOM}/"}, timeout=TIMEOUT)
        body = r.json() if r.headers.get("Content-Type", "").startswith("application/json") else {}
        message = body.get("message", {})
        check("send view: saved and published (201, offset 1)", r.status_code == 201 and body.get("offset") == 1
              and message.get("text") == text and message.get("user") == "alice", f"HTTP {r.status_code} {body}")
        r2 = await asyncio.to_thread(anon.post, f"{DJANGO}/chat/{ROOM}/messages", json={"text": "x"}, timeout=TIMEOUT)
        check("send view: anonymous refused", r2.status_code == 403, f"HTTP {r2.status_code}")
        r3 = await asyncio.to_thread(bob.post, f"{DJANGO}/chat/{ROOM}/messages", json={"text": "no csrf"}, timeout=TIMEOUT)
        check("send view: without the CSRF token refused", r3.status_code == 403, f"HTTP {r3.status_code}")
        if ok:
            got = await wait_for(lambda: len(a_sub_events.pubs) >= 1)
            data = [p.pub.data for p in a_sub_events.pubs]
            check("cent → pushwire → alice (token client): the message, once", got and data == [message], f"{data}")
        if ok_b:
            got = await wait_for(lambda: len(b_sub_events.pubs) >= 1)
            data = [p.pub.data for p in b_sub_events.pubs]
            check("cent → pushwire → bob (proxy client): the message, once", got and data == [message], f"{data}")

        # The RPC proxy: the room's history from Django's database.
        for who, client, up in (("alice", a, ok), ("bob", b, ok_b)):
            if not up:
                continue
            data, code = await rpc(client, "room_history", {"room": ROOM, "limit": 10})
            check(f"rpc proxy: room_history for {who} from the database",
                  code is None and isinstance(data, dict) and data.get("messages") == [message],
                  f"error {code}" if code is not None else f"{data}")
        if ok:
            data, code = await rpc(a, "no_such_method", {})
            check("rpc proxy: an unknown method gets Django's error 404", code == 404, f"error {code}, data {data}")
            data, code = await rpc(a, "room_history", {"room": "Not A Room!"})
            check("rpc proxy: bad params get Django's error 400", code == 400, f"error {code}, data {data}")
    finally:
        await a.disconnect()
        await b.disconnect()

    # The proxy views answer the hub only (its X-Pushwire-Proxy-Key).
    for path in ("connect", "rpc"):
        r = await asyncio.to_thread(bob.post, f"{DJANGO}/centrifugo/{path}", json={"user": "1", "method": "room_history",
                                    "data": {"room": ROOM}}, timeout=TIMEOUT)
        check(f"/centrifugo/{path} without the hub's key: 403", r.status_code == 403, f"HTTP {r.status_code}")

    # The same views called as the hub calls them (its key, the forwarded
    # Cookie), without the hub: what Django answers, whatever the hub does.
    key = {"X-Pushwire-Proxy-Key": os.environ.get("PUSHWIRE_PROXY_KEY", "")}
    call = {"client": "c1", "transport": "websocket", "protocol": "json", "encoding": "json"}
    r = await asyncio.to_thread(bob.post, f"{DJANGO}/centrifugo/connect", json=call, headers=key, timeout=TIMEOUT)
    check("connect view: bob's cookie → his user and info", r.status_code == 200 and r.json().get("result", {}).get("info") == {"name": "bob"}
          and r.json()["result"].get("user", "").isdigit(), f"HTTP {r.status_code} {r.text[:200]}")
    r = await asyncio.to_thread(requests.post, f"{DJANGO}/centrifugo/connect", json=call, headers=key, timeout=TIMEOUT)
    check("connect view: no cookie → disconnect 4501", r.status_code == 200 and r.json() == {"disconnect": {"code": 4501, "reason": "unauthorized"}},
          f"HTTP {r.status_code} {r.text[:200]}")
    r = await asyncio.to_thread(requests.post, f"{DJANGO}/centrifugo/rpc", headers=key, timeout=TIMEOUT,
                                json={**call, "user": alice_id, "method": "room_history", "data": {"room": ROOM}})
    got = r.json().get("result", {}).get("data", {}).get("messages") if r.status_code == 200 else None
    check("rpc view: room_history from the database", got == [message], f"HTTP {r.status_code} {r.text[:300]}")
    r = await asyncio.to_thread(requests.post, f"{DJANGO}/centrifugo/rpc", headers=key, timeout=TIMEOUT,
                                json={**call, "user": "", "method": "room_history", "data": {"room": ROOM}})
    check("rpc view: an anonymous caller gets error 403", r.status_code == 200 and r.json().get("error", {}).get("code") == 403,
          f"HTTP {r.status_code} {r.text[:200]}")

    # Anonymous connections: Django's connect proxy refuses them with 4501.
    ok, why = await refused({})
    check("connect proxy: no cookie → disconnect 4501", ok, why)
    ok, why = await refused({"Cookie": "sessionid=" + secrets.token_hex(16)})
    check("connect proxy: a made-up session → disconnect 4501", ok, why)
    ok, why = await refused({"Cookie": cookie_header(anon) or "csrftoken=x"})
    check("connect proxy: a logged-out browser's cookies → disconnect 4501", ok, why)


if __name__ == "__main__":
    try:
        asyncio.run(asyncio.wait_for(main(), timeout=60))
    except Exception:  # noqa: BLE001 - the run itself broke: say where, count it
        traceback.print_exc()
        results.append(("the run", "raised"))
    failed = sum(1 for _, why in results if why)
    print(f"django-e2e: {len(results) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
