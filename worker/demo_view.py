"""What the demo prints: one timeline merged from every source, the ATS summary, the checks.

Sources: the sandboxes' logs (``/_sandbox/calls``, ``/_sandbox/webhooks``, ``/_sandbox/writes``),
the Celery result backend (one record per task run, ``result_extended``) and the worker's own
Redis records (``Store.timeline``, dead letters). Ids are shortened; the only personal data shown
is the sandbox's fake candidate's own notes, which carry none.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from worker.demo_scenario import (
    APPLICATION_ID,
    CANDIDATE_ID,
    MILESTONES,
    Sandboxes,
)
from worker.store import Store

LONG_ID = re.compile(r"\b[0-9a-f]{32}\b|\b[0-9a-f]{8}-[0-9a-f-]{27}\b")
FIELDS = ("crosschq_status", "crosschq_progress", "crosschq_score", "crosschq_report_url")


@dataclass(frozen=True, order=True)
class Row:
    at: float
    who: str
    what: str
    detail: str


def short(text: object) -> str:
    """Shorten request, event and task ids to eight characters."""
    return LONG_ID.sub(lambda m: m.group(0)[:8], str(text))


def epoch(value: object) -> float:
    if isinstance(value, int | float):
        return float(value)
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _kwargs(kwargs: object) -> str:
    if not isinstance(kwargs, dict):
        return ""
    return ", ".join(f"{k}={short(v)}" for k, v in kwargs.items())


def task_rows(store: Store) -> list[Row]:
    rows = []
    for key in store.r.scan_iter(match="celery-task-meta-*", count=500):
        meta = json.loads(store.r.get(key) or b"{}")
        name = str(meta.get("name") or "?")
        if name.startswith("health.") or not meta.get("date_done"):
            continue
        result = meta.get("result")
        outcome = short(result) if meta.get("status") == "SUCCESS" else meta.get("status")
        detail = f"{name}({_kwargs(meta.get('kwargs'))}) {meta.get('status')}: {outcome}"
        rows.append(Row(epoch(meta["date_done"]), "worker", "task done", detail))
    return rows


def record_rows(store: Store) -> list[Row]:
    rows = []
    for entry in store.timeline("greenhouse", str(APPLICATION_ID)):
        at, what = entry.pop("at"), entry.pop("what")
        fields = " ".join(f"{k}={short(v)}" for k, v in entry.items())
        rows.append(Row(float(at), "worker", "recorded", f"{what} {fields}".strip()))
    for dead in store.dead_letters(100):
        detail = f"{dead['task']}({_kwargs(dead['kwargs'])}) {short(dead['reason'])}"
        rows.append(Row(float(dead["at"]), "worker", "DEAD LETTER", detail))
    return rows


def webhook_rows(sandboxes: Sandboxes) -> list[Row]:
    rows = []
    for hook in sandboxes.call("greenhouse", "GET", "webhooks"):
        answer = hook.get("http_status") or hook.get("error") or "no answer"
        attempt = int(hook.get("attempt") or 1)
        retry = f" (attempt {attempt})" if attempt > 1 else ""
        detail = f"{hook['action']} -> receiver {answer}{retry}"
        rows.append(Row(epoch(hook["at"]), "greenhouse", "webhook", detail))
    for hook in sandboxes.call("crosschq", "GET", "webhooks"):
        answer = hook.get("http_status") or ("dropped" if hook.get("dropped") else "no answer")
        event = str(hook.get("event_name", "")).replace("reference_request_", "")
        dup = " (duplicate)" if hook.get("duplicate") else ""
        detail = f"{event} status={hook.get('status')} -> receiver {answer}{dup}"
        rows.append(Row(epoch(hook["at"]), "crosschq", "webhook", detail))
    return rows


def call_rows(sandboxes: Sandboxes) -> list[Row]:
    rows = []
    for call in sandboxes.call("crosschq", "GET", "calls"):
        query = f"?{call['query']}" if call.get("query") else ""
        detail = f"{call['method']} {short(call['path'])}{query} -> {call['status']}"
        rows.append(Row(epoch(call["at"]), "worker", "crosschq api", detail))
    for call in sandboxes.call("greenhouse", "GET", "calls"):
        detail = f"{call['method']} {call['path']} -> {call['status']}"
        rows.append(Row(epoch(call["at"]), "worker", "harvest api", detail))
    return rows


def write_rows(sandboxes: Sandboxes) -> list[Row]:
    rows = []
    for write in sandboxes.call("greenhouse", "GET", "writes"):
        kind, at = write.get("kind"), epoch(write["at"])
        if kind == "custom_fields":
            rows.append(Row(at, "ats", "field", f"{write.get('name_key')} = {short(write.get('value'))}"))
        elif kind == "note":
            rows.append(Row(at, "ats", "note", short(write.get("body", ""))))
        elif kind == "attachment":
            size = int(write.get("size_bytes") or 0)
            rows.append(Row(at, "ats", "attachment", f"{write.get('filename')} ({size:,} bytes)"))
        else:
            rows.append(Row(at, "ats", str(kind), short(write.get("to_stage") or "")))
    return rows


def collect(sandboxes: Sandboxes, store: Store, actions: Iterable[tuple[float, str]]) -> list[Row]:
    rows = [Row(at, "demo", "step", label) for at, label in actions]
    for part in (webhook_rows, call_rows, write_rows):
        rows += part(sandboxes)
    rows += task_rows(store) + record_rows(store)
    return sorted(rows)


def render_timeline(rows: list[Row], start: float) -> list[str]:
    lines = ["timeline (seconds since the stage change):"]
    for row in rows:
        if row.who == "demo":
            lines.append("")
        lines.append(f"  {row.at - start:6.2f}s  {row.who:10s} {row.what:13s} {row.detail}")
    return lines


def render_ats(state: dict[str, Any]) -> list[str]:
    stage = (state.get("current_stage") or {}).get("name", "?")
    lines = [
        "",
        f"what landed in Greenhouse (application {APPLICATION_ID}, candidate {CANDIDATE_ID}):",
        f"  stage: {stage}",
    ]
    fields = state.get("custom_fields") or {}
    lines += [f"  {name:20s} {short(fields.get(name))}" for name in FIELDS]
    notes = state.get("notes") or []
    lines.append(f"  notes ({len(notes)}):")
    lines += [f"    - {short(note.get('body', ''))}" for note in notes]
    attachments = state.get("attachments") or []
    lines.append(f"  attachments ({len(attachments)}):")
    lines += [
        f"    - {a.get('filename')}  {int(a.get('size_bytes') or 0):,} bytes  {a.get('content_type')}"
        for a in attachments
    ]
    return lines


@dataclass(frozen=True)
class Check:
    ok: bool
    text: str


def end_state_checks(
    state: dict[str, Any], request_ids: list[str], dead: list[dict[str, Any]]
) -> list[Check]:
    """What a finished reference check must look like in the ATS."""
    fields = state.get("custom_fields") or {}
    notes = [str(n.get("body", "")) for n in state.get("notes") or []]
    counts = {name: sum(1 for b in notes if pattern.search(b)) for name, pattern in MILESTONES.items()}
    pdfs = [a for a in state.get("attachments") or [] if str(a.get("filename", "")).endswith(".pdf")]
    score = fields.get("crosschq_score")
    progress = fields.get("crosschq_progress")
    return [
        Check(
            fields.get("crosschq_status") == "Completed",
            f"status field is 'Completed' (is {fields.get('crosschq_status')!r})",
        ),
        Check(_number(progress) == 100, f"progress is 100 (is {progress!r})"),
        Check(_number(score) is not None, f"a score was written (is {score!r})"),
        Check(
            all(counts.values()),
            "a note for every milestone (" + ", ".join(f"{k} {v}" for k, v in counts.items()) + ")",
        ),
        Check(
            len(pdfs) == 1 and len(state.get("attachments") or []) == 1,
            f"exactly one PDF attached (found {len(pdfs)})",
        ),
        Check(len(request_ids) == 1, f"exactly one Crosschq request created (found {len(request_ids)})"),
        Check(not dead, _dead_text(dead)),
    ]


def _dead_text(dead: list[dict[str, Any]]) -> str:
    if not dead:
        return "no dead letters"
    return f"no dead letters (found {len(dead)}; first: {short(dead[0]['reason'])})"


def _number(value: object) -> float | None:
    try:
        return float(str(value))
    except ValueError:
        return None


def render_checks(checks: list[Check]) -> list[str]:
    lines = ["", "checks:"]
    lines += [f"  {'ok  ' if c.ok else 'FAIL'}  {c.text}" for c in checks]
    return lines
