"""A small HTTP/1.1 load generator: N prepared requests over C keep-alive connections.

Written on raw asyncio streams so that the client spends as little CPU per request as
possible (a benchmark on a two-core machine shares its cores with the servers it measures).
Every request is bounded by a timeout and the whole run by a deadline.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.report import percentile


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0

    @property
    def count(self) -> int:
        return len(self.latencies)

    def summary(self) -> dict[str, Any]:
        ms = [v * 1000 for v in self.latencies]
        return {
            "requests": self.count,
            "seconds": round(self.elapsed, 3),
            "rate": round(self.count / self.elapsed, 1) if self.elapsed else 0.0,
            "p50_ms": round(percentile(ms, 50), 2),
            "p99_ms": round(percentile(ms, 99), 2),
            "max_ms": round(max(ms), 2) if ms else 0.0,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "errors": dict(self.errors),
        }


def http_request(method: str, path: str, port: int, headers: Mapping[str, str], body: bytes) -> bytes:
    head = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Length: {len(body)}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """The status, and whether the server keeps the connection open."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    if fields.get("transfer-encoding", "").lower() == "chunked":
        raise ValueError("chunked answers are not supported by this client")
    await reader.readexactly(int(fields.get("content-length", "0")))
    return status, fields.get("connection", "").lower() != "close"


@dataclass
class Plan:
    """What is left to send; with a ``rate``, request i is due at ``start + i / rate``."""

    todo: list[bytes]
    rate: float | None = None
    start: float = 0.0
    sent: int = 0

    async def next(self) -> tuple[bytes, float]:
        """The next payload and the time its latency counts from."""
        payload, index = self.todo.pop(), self.sent
        self.sent += 1
        if self.rate is None:
            return payload, time.perf_counter()
        due = self.start + index / self.rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        return payload, due


async def _connection(port: int, plan: Plan, result: LoadResult, timeout: float, deadline: float) -> None:
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    while plan.todo and time.monotonic() < deadline:
        payload, started = await plan.next()
        if writer is None:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert reader is not None
        try:
            writer.write(payload)
            status, keep = await asyncio.wait_for(_read_response(reader), timeout)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
            result.errors[type(exc).__name__] += 1
            writer.close()
            writer = None
            continue
        result.latencies.append(time.perf_counter() - started)
        result.statuses[status] += 1
        if not keep:
            writer.close()
            writer = None
    if writer is not None:
        writer.close()


async def _run(
    port: int, payloads: Sequence[bytes], concurrency: int, timeout: float, limit: float, rate: float | None
) -> LoadResult:
    result = LoadResult()
    deadline = time.monotonic() + limit
    started = time.perf_counter()
    plan = Plan(list(reversed(payloads)), rate, started)
    await asyncio.gather(*(_connection(port, plan, result, timeout, deadline) for _ in range(concurrency)))
    result.elapsed = time.perf_counter() - started
    return result


def run_load(
    port: int,
    payloads: Sequence[bytes],
    *,
    concurrency: int = 32,
    timeout: float = 10.0,
    limit: float = 120.0,
    rate: float | None = None,
) -> LoadResult:
    """Send every payload (a full HTTP request) to 127.0.0.1:``port``; at most ``limit`` seconds.

    Without ``rate`` each connection sends as soon as its previous answer arrived (saturation).
    With ``rate`` requests are due at a steady pace and latency counts from the due time, so a
    server that falls behind is charged for the wait (no coordinated omission).
    """
    return asyncio.run(_run(port, payloads, concurrency, timeout, limit, rate))


def build_requests(
    count: int, make: Callable[[int], tuple[str, Mapping[str, str], bytes]], port: int, method: str = "POST"
) -> list[bytes]:
    """``count`` prepared requests; ``make(i)`` gives the path, headers and body of number i."""
    out = []
    for i in range(count):
        path, headers, body = make(i)
        out.append(http_request(method, path, port, headers, body))
    return out
