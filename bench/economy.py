"""Calls per completed reference check to each API, against the least the flows need.

N applications go through the whole lifecycle under a real worker: moved to Reference Check in
the Greenhouse sandbox (flow A creates the Crosschq request), then in the Crosschq sandbox the
candidate accepts, completes the self-assessment, adds two references, both complete, and the
report becomes ready (flow B writes each milestone back). Each step is taken once every webhook
of the previous one has been processed. Calls are counted in both sandboxes' call logs.

The minimum per completed request, and why:

Crosschq (4, one of them shared)
  create 1 (POST reference-request); retrieve 1 (a terminal status is confirmed before it is
  written back); download 1 per report kind attached (summary); the job-role catalogue 1 per
  refresh, shared by every request created meanwhile (1/N here: one refresh for the run).
Greenhouse (15 + 2/N)
  reads 3 + 2/N: the application, its candidate, its job (with the hiring team); and the users
  whose e-mail the request needs (requestor = recruiter, hiring manager), read once for the run
  since every application here shares them (the connector keeps a user read for 5 minutes);
  status fields 5: one PATCH per status the ATS shows (Sent, Accepted, Assigning, Collecting,
  Completed), progress, score and report link riding along;
  notes 6: request sent, two references added, two completed, check completed;
  attachment 1: the PDF report.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from typing import Any

import requests

from bench.harness import BenchStack, bench_stack, seed_applications
from bench.report import table, write_result
from bench.watch import wait_until

APPLICATIONS = int(os.environ.get("BENCH_ECONOMY_APPLICATIONS", "5"))
STEPS = ("accept", "self-assessment", "add-reference", "add-reference", "complete-reference",
         "complete-reference", "report-ready")  # fmt: skip
MINIMUM = {
    "crosschq": {"POST create": 1.0, "GET retrieve": 1.0, "GET download-report": 1.0,
                 "GET jobroles": 1 / APPLICATIONS},
    "greenhouse": {"GET reads": 3 + 2 / APPLICATIONS, "PATCH status fields": 5.0, "POST notes": 6.0,
                   "POST attachment": 1.0},
}  # fmt: skip
_ID = re.compile(r"/(?:[0-9]+|[0-9a-f]{32})(?=/|$)")


def crosschq_kind(call: dict[str, Any]) -> str:
    path = call["path"]
    for name in ("download-report", "jobrole", "cancel", "conclude", "send-reminder", "edit"):
        if name in path:
            return f"{call['method']} {'jobroles' if name == 'jobrole' else name}"
    return f"{call['method']} {'create' if call['method'] == 'POST' else 'retrieve'}"


def greenhouse_kind(call: dict[str, Any]) -> str:
    method, path = call["method"], _ID.sub("/{id}", call["path"])
    if method == "GET":
        return "GET reads"
    if method == "PATCH" and path.startswith("/v1/applications/"):
        return "PATCH status fields"
    if "activity_feed/notes" in path:
        return "POST notes"
    if "attachments" in path:
        return "POST attachment"
    return f"{method} {path}"


def step_all(bs: BenchStack, request_ids: list[str], step: str) -> None:
    for rid in request_ids:
        response = requests.post(f"{bs.crosschq.url}_sandbox/requests/{rid}/{step}", json={}, timeout=10)
        response.raise_for_status()
    settle(bs)


def settle(bs: BenchStack) -> None:
    """Every webhook sent, stored and processed."""
    bs.crosschq.wait_idle(30)
    bs.greenhouse.wait_idle(30)
    wait_until("the worker to process every event", lambda: bs.redis.zcard("cqw:inbox:pending") == 0, 60)


def lifecycle(bs: BenchStack) -> list[str]:
    apps = seed_applications(bs.greenhouse, APPLICATIONS)
    for app_id in apps:
        bs.greenhouse.move(app_id, "Reference Check")
    found = wait_until("every request", lambda: len(bs.crosschq.state.summaries()) >= APPLICATIONS, 60)
    request_ids = [str(r["id"]) for r in bs.crosschq.state.summaries()] if found else []
    settle(bs)
    for step in STEPS:
        step_all(bs, request_ids, step)

    def attached() -> bool:
        return all(bs.greenhouse.application_state(a)["attachments"] for a in apps)

    wait_until("every report attached", attached, 60)
    settle(bs)
    return request_ids


def run() -> dict[str, Any]:
    with bench_stack() as bs:
        bs.start_worker("worker", 2)
        request_ids = lifecycle(bs)
        counts = {
            "crosschq": Counter(crosschq_kind(c) for c in list(bs.crosschq.state.calls)),
            "greenhouse": Counter(greenhouse_kind(c) for c in bs.greenhouse.calls() if c.get("api") == "v1"),
        }
        dead = len(bs.redis.zrange("cqw:dead", 0, -1))
    return report(len(request_ids), counts, dead)


def report(completed: int, counts: dict[str, Counter[str]], dead: int) -> dict[str, Any]:
    rows, per_request = [], {}
    for api, minimum in MINIMUM.items():
        kinds = sorted(set(minimum) | set(counts[api]))
        per_request[api] = {kind: round(counts[api][kind] / completed, 2) for kind in kinds}
        for kind in kinds:
            least = round(minimum.get(kind, 0.0), 2)
            rows.append([api, kind, counts[api][kind], per_request[api][kind], least,
                         round(per_request[api][kind] - least, 2)])  # fmt: skip
        used, least = round(sum(per_request[api].values()), 2), round(sum(minimum.values()), 2)
        rows.append([api, "total", sum(counts[api].values()), used, least, round(used - least, 2)])
    extra = {api: round(sum(per_request[api].values()) - sum(MINIMUM[api].values()), 2) for api in MINIMUM}
    result = {"completed_requests": completed, "calls": {a: dict(c) for a, c in counts.items()},
              "per_request": per_request, "minimum": MINIMUM, "extra_per_request": extra,
              "dead_letters": dead}  # fmt: skip
    # The table is the result; the run itself must have completed every lifecycle cleanly.
    result["met"] = {"all_completed": completed == APPLICATIONS, "no_dead_letters": dead == 0}
    print(table(f"economy: calls per completed request ({completed} full lifecycles)",
                ["API", "call", "calls", "per request", "minimum", "extra"], rows))  # fmt: skip
    print("; ".join(f"{api}: {value:+.2f} calls per request over the minimum" for api, value in extra.items())
          + f"; dead letters: {dead}\n")
    write_result("economy", result)
    return result


def main() -> bool:
    """``python -m bench``: True when every target was met."""
    return all(run()["met"].values())


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
