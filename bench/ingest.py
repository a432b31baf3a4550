"""Receiver throughput and latency, side by side with a bare ASGI endpoint doing the same writes.

Both are served by uvicorn in their own process with the same options; the same number of
unique, valid Crosschq webhooks is sent to each over 32 keep-alive connections, in alternating
rounds so that both see the same machine. The receiver's enqueue is real (a Celery message in
Redis, no worker consuming it); the bare endpoint pushes a comparable message with LPUSH.

Two phases:

- saturation: every connection sends as soon as it has its answer; gives the rates compared
  (target: the receiver at least 0.7 of the bare rate). Latency here is queueing: with 32
  requests always in flight it is about 32 / rate, whatever the server does.
- paced: the same 32 connections at a steady half of the bare endpoint's saturated rate,
  latency counted from when each request was due (target: receiver p99 at most 20 ms).
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

from bench.harness import CROSSCHQ_HEADERS, BenchStack, bench_stack, crosschq_webhook
from bench.load import LoadResult, build_requests, run_load
from bench.report import ratio, table, verdict, write_result
from worker.stack import free_port, wait_for_http

REQUESTS = int(os.environ.get("BENCH_INGEST_REQUESTS", "3000"))
CONCURRENCY = 32
ROUNDS = 6  # short alternating rounds: a neighbour's load spike hits both endpoints alike
WARMUP = 300
PACED_SHARE = 0.3
TARGET_RATIO = 0.7
TARGET_P99_MS = 20.0
PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
Targets = dict[str, tuple[int, str]]


def _payloads(port: int, path: str, tag: str, count: int) -> list[bytes]:
    now = time.time()

    def make(i: int) -> tuple[str, dict[str, str], bytes]:
        return path, CROSSCHQ_HEADERS, crosschq_webhook(f"{tag}-{i:06d}", "accepted", now)

    return build_requests(count, make, port)


def _start_bare(bs: BenchStack) -> int:
    port = free_port()
    argv = ["-m", "uvicorn", "bench.bare_ingest:app", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--no-access-log", "--log-level", "warning"]
    bs.start_command("bare", argv, {"PYTHONPATH": PROJECT_ROOT})
    wait_for_http(f"http://127.0.0.1:{port}/", timeout=30, ok=(401,))
    return port


def _merge(results: list[LoadResult]) -> dict[str, Any]:
    merged = LoadResult()
    for result in results:
        merged.latencies += result.latencies
        merged.statuses.update(result.statuses)
        merged.errors.update(result.errors)
        merged.elapsed += result.elapsed
    return merged.summary()


def _phase(targets: Targets, tag: str, total: int, rate: float | None = None) -> dict[str, Any]:
    """``total`` requests per target in ROUNDS rounds, alternating which goes first."""
    runs: dict[str, list[LoadResult]] = {name: [] for name in targets}
    for round_no in range(ROUNDS):
        order = list(targets) if round_no % 2 == 0 else list(reversed(targets))
        for name in order:
            port, path = targets[name]
            payloads = _payloads(port, path, f"{tag}-{name}-{round_no}", total // ROUNDS)
            runs[name].append(run_load(port, payloads, concurrency=CONCURRENCY, rate=rate))
    pairs = [
        ratio(r.count / r.elapsed, b.count / b.elapsed)
        for r, b in zip(runs["receiver"], runs["bare"], strict=True)
    ]
    return {**{name: _merge(results) for name, results in runs.items()}, "round_ratios": pairs}


def measure(bs: BenchStack) -> dict[str, Any]:
    targets: Targets = {"bare": (_start_bare(bs), "/"), "receiver": (bs.web_port, "/webhooks/crosschq")}
    for name, (port, path) in targets.items():
        run_load(port, _payloads(port, path, f"warm-{name}", WARMUP), concurrency=CONCURRENCY)
    saturated = _phase(targets, "sat", REQUESTS)
    rate = round(saturated["bare"]["rate"] * PACED_SHARE, 1)
    paced = _phase(targets, "paced", max(600, int(rate * 6)), rate=rate)
    return {"saturated": saturated, "paced": paced, "paced_rate": rate}


def run() -> dict[str, Any]:
    with bench_stack() as bs:
        result = measure(bs)
        result["celery_messages_enqueued"] = int(bs.redis.llen("ats"))
    sat, paced = result["saturated"], result["paced"]
    result.update(
        requests_per_round=REQUESTS,
        rounds=ROUNDS,
        concurrency=CONCURRENCY,
        rate_ratio=statistics.median(sat["round_ratios"]),
        targets={"rate_ratio": TARGET_RATIO, "paced_p99_ms": TARGET_P99_MS},
    )
    result["met"] = {
        "rate_ratio": result["rate_ratio"] >= TARGET_RATIO,
        "paced_p99_ms": paced["receiver"]["p99_ms"] <= TARGET_P99_MS,
        "all_202": all(s["receiver"]["statuses"] == {"202": s["receiver"]["requests"]} for s in (sat, paced)),
    }
    _print(result)
    write_result("ingest", result)
    return result


def _print(result: dict[str, Any]) -> None:
    rows = []
    for phase in ("saturated", "paced"):
        for name in ("bare", "receiver"):
            s = result[phase][name]
            answers = ", ".join(f"{k}: {v}" for k, v in s["statuses"].items())
            latency = [s["p50_ms"], s["p99_ms"], s["max_ms"]]
            rows.append([phase, name, s["requests"], s["rate"], *latency, answers])
    title = f"ingest: {result['concurrency']} connections; paced at {result['paced_rate']} req/s"
    headers = ["phase", "endpoint", "requests", "req/s", "p50 ms", "p99 ms", "max ms", "answers"]
    print(table(title, headers, rows))
    met, paced_p99 = result["met"], result["paced"]["receiver"]["p99_ms"]
    rounds = " ".join(f"{r:.2f}" for r in result["saturated"]["round_ratios"])
    print(f"rate ratio, median of rounds ({rounds}): {result['rate_ratio']:.3f}"
          f" (target >= {TARGET_RATIO}): {verdict(met['rate_ratio'])}")
    print(f"receiver p99 when paced {paced_p99} ms (target <= {TARGET_P99_MS}):"
          f" {verdict(met['paced_p99_ms'])}")
    print(f"Celery messages the receiver enqueued: {result['celery_messages_enqueued']}\n")


def main() -> bool:
    """``python -m bench``: True when every target was met."""
    return all(run()["met"].values())


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
