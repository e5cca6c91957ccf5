"""Fixtures for the Python side of the hub tests: a real `pushwire serve` on a
free loopback port with a generated Centrifugo-style config, tokens minted
with PyJWT (independently of the Node harness), and a `cent` 5.x client.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections import deque
from pathlib import Path

import jwt
import pytest
from cent import Client as CentClient

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent.parent
PUSHWIRE_BIN = os.environ.get("PUSHWIRE_BIN") or str(ROOT / "target" / "debug" / "pushwire")

HMAC_SECRET = "hub-py-secret-" + secrets.token_hex(16)
API_KEY = "hub-py-api-key-" + secrets.token_hex(8)

OPEN = {
    "allow_subscribe_for_client": True,
    "allow_publish_for_subscriber": True,
    "allow_presence_for_subscriber": True,
    "allow_history_for_subscriber": True,
}


def base_config() -> dict:
    """Centrifugo v6 key names; the same namespaces as the Node harness."""
    return {
        "client": {
            "token": {"hmac_secret_key": HMAC_SECRET},
            "allow_anonymous_connect_without_token": False,
            "allowed_origins": [],
            "ping_interval": "25s",
        },
        "http_api": {"key": API_KEY},
        "channel": {
            "without_namespace": dict(OPEN),
            "namespaces": [
                {
                    "name": "chat",
                    **OPEN,
                    "presence": True,
                    "join_leave": True,
                    "force_push_join_leave": True,
                    "history_size": 1000,
                    "history_ttl": "300s",
                    "force_recovery": True,
                },
                {"name": "plain", "allow_subscribe_for_client": True},
                {"name": "locked"},
            ],
        },
    }


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def can_connect(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Server:
    """A running `pushwire serve --listen 127.0.0.1:PORT --config FILE.json`."""

    def __init__(self, config: dict | None = None, timeout: float = 15.0):
        self.config = base_config() if config is None else config
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="pushwire-hub-py-")
        cfg = Path(self.dir) / "config.json"
        cfg.write_text(json.dumps(self.config, indent=2))
        self.args = [PUSHWIRE_BIN, "serve", "--listen", f"127.0.0.1:{self.port}", "--config", str(cfg)]
        env = {**os.environ, "NO_COLOR": "1", "RUST_LOG": os.environ.get("RUST_LOG", "info")}
        self.proc = subprocess.Popen(
            self.args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env
        )
        self.lines: deque[str] = deque(maxlen=400)
        self.serving = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/connection/websocket"
        self.api_url = f"{self.origin}/api"
        self.api_key = API_KEY
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"pushwire exited early ({self.proc.returncode})\n{self.output()}")
            if self.serving.is_set() and can_connect(self.port):
                break
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"pushwire not serving within {timeout}s\n{self.output()}")
            time.sleep(0.025)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines.append(line)
            if "serving" in line:
                self.serving.set()

    def output(self) -> str:
        return f"--- {' '.join(self.args)} ---\n" + "\n".join(self.lines)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def user_token(user: str, ttl: int = 3600, **claims) -> str:
    now = int(time.time())
    return jwt.encode({"sub": str(user), "exp": now + ttl, "iat": now, **claims}, HMAC_SECRET, algorithm="HS256")


_seq = itertools.count(1)


def channel(ns: str = "", stem: str = "t") -> str:
    """A channel name no other test uses."""
    name = f"{stem}{next(_seq)}_{secrets.token_hex(3)}"
    return f"{ns}:{name}" if ns else name


@pytest.fixture(scope="session")
def server():
    s = Server()
    yield s
    s.stop()


@pytest.fixture
def cent(server):
    with CentClient(server.api_url, server.api_key, timeout=5.0) as c:
        yield c


async def wait_for(cond, timeout: float = 5.0, what: str = "condition", every: float = 0.02):
    """Polls `cond()` (sync) until truthy inside an event loop."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(every)
