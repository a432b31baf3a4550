"""Shared fixtures: a clean settings cache and environment for every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from config.settings import reset_settings_cache


@pytest.fixture(autouse=True)
def _fresh_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    # Tests never read a developer's .env: run each one from an empty directory's point of view.
    monkeypatch.setattr("config.settings.ENV_FILE", str(tmp_path_factory.mktemp("env") / ".env"))
    reset_settings_cache()
    yield
    reset_settings_cache()


# -- Redis: the machine's if reachable, else a real redis-server started for the session ----------
import os  # noqa: E402

import redis  # noqa: E402

from worker.embedded_redis import EmbeddedRedis, reachable  # noqa: E402

TEST_DB = int(os.environ.get("TEST_REDIS_DB", "11"))


# Set in the test database after each flush: a database holding keys but not this one belongs
# to someone else, and the tests start their own redis-server rather than empty it.
SCRATCH_MARK = "crosschq-ats-worker:test-scratch-db"


def _ours_to_empty(url: str) -> bool:
    client = redis.Redis.from_url(url)
    try:
        return client.dbsize() == 0 or bool(client.exists(SCRATCH_MARK))
    finally:
        client.close()


@pytest.fixture(scope="session")
def redis_server_url() -> Iterator[str]:
    url = os.environ.get("TEST_REDIS_URL", f"redis://127.0.0.1:6379/{TEST_DB}")
    if reachable(url) and _ours_to_empty(url):
        yield url
        return
    server = EmbeddedRedis()
    base = server.start()
    try:
        yield base.rsplit("/", 1)[0] + f"/{TEST_DB}"
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server_url: str) -> Iterator[str]:
    """A Redis database emptied before each test."""
    client = redis.Redis.from_url(redis_server_url)
    client.flushdb()
    client.set(SCRATCH_MARK, "emptied before every test")
    yield redis_server_url
    client.close()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


# -- a loopback HTTP server that records what is posted to it (webhook sink) -------------------
import threading  # noqa: E402
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402


class WebhookSink:
    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with sink.lock:
                    sink.received.append((self.command, dict(self.headers.items()), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_PUT = _handle

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def bodies(self) -> list[bytes]:
        with self.lock:
            return [body for _, _, body in self.received]

    def clear(self) -> None:
        with self.lock:
            self.received.clear()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook_sink() -> Iterator[WebhookSink]:
    sink = WebhookSink()
    yield sink
    sink.close()
