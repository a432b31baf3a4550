"""Celery tasks: decode ids, bind context, call one flow, turn errors into retry or failure.

Every task takes ids only (JSON kwargs), so Flower and the logs show no personal data and a
failed task re-applied from Flower runs the same work again.

Error policy, the same for every task:
- ``RetryableError``: retry after ``min(cap, max(Retry-After, base * 2**n))`` plus jitter, up to
  ``WORKER_MAX_RETRIES``; then a dead letter and the task fails.
- ``PermanentError``: a dead letter with a one-line reason and the task fails at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from celery import Task
from celery.exceptions import Retry, SoftTimeLimitExceeded

from config import redaction
from config.logs import get_logger
from connectors.errors import IntegrationError, PermanentError, RateLimited, RetryableError
from worker.app import app
from worker.deps import Deps, get_deps
from worker.flows import actions, scans
from worker.flows import requests as request_flows
from worker.flows import results as result_flows
from worker.flows.ledger import WriteInFlight
from worker.retry import countdown

log = get_logger("worker.tasks")
WAITS = (RateLimited, request_flows.CreateInFlight, result_flows.RequestBusy, WriteInFlight)
WAIT_BUDGET = 4
F = TypeVar("F", bound=Callable[..., Any])


class FlowTask(Task):  # celery ships no type information, so Task is Any
    """Base task: the error policy above."""

    abstract = True

    def run_flow(self, flow: Callable[..., str], *args: Any, **kwargs: Any) -> str:
        deps = get_deps()
        deps.send_task = app.send_task
        owner = str(self.request.id or "local")
        try:
            return flow(deps, *args, owner=owner, **kwargs)
        except RetryableError as exc:
            return self._retry(deps, exc)
        except PermanentError as exc:
            self._dead_letter(deps, exc)
            log.error("task.failed", reason=str(exc), **exc.context())
            # Re-raise as the same type with the full one-line reason as its only argument, so
            # the failure shown in Flower and the result backend says what to fix.
            raise type(exc)(str(exc)) from None
        except SoftTimeLimitExceeded:
            raise  # may pass next time: the inbox re-dispatch tries again, then dead-letters
        except IntegrationError:
            raise
        except Exception as exc:
            # A bug, not a condition of the outside world: no retry would help. Dead-lettered
            # (the message masked like a log line) so that `failures` shows it and replay can
            # run it again once fixed.
            self._dead_letter(deps, exc, note="unexpected error")
            log.exception("task.crashed", error=type(exc).__name__)
            raise

    def _retry(self, deps: Deps, exc: RetryableError) -> str:
        settings = deps.settings.worker
        attempt = self.request.retries
        # Waiting for a rate limit or for another task is not failing: it gets a longer budget.
        limit = settings.max_retries * (WAIT_BUDGET if isinstance(exc, WAITS) else 1)
        if attempt >= limit:
            self._dead_letter(deps, exc, note=f"gave up after {attempt} retries")
            log.error("task.gave_up", reason=str(exc), retries=attempt, **exc.context())
            raise type(exc)(f"gave up after {attempt} retries: {exc}") from None
        wait = countdown(
            attempt,
            base=settings.retry_backoff_base,
            cap=settings.retry_backoff_cap,
            retry_after=exc.retry_after,
        )
        log.warning("task.retrying", reason=str(exc), attempt=attempt + 1, countdown=wait, **exc.context())
        raise self.retry(countdown=wait, max_retries=limit + 1, exc=None)

    def _dead_letter(self, deps: Deps, exc: Exception, note: str = "") -> None:
        message = str(exc) if isinstance(exc, IntegrationError) else redaction.redact_text(str(exc))
        reason = f"{note}: {message}" if note else message
        event_id = (self.request.kwargs or {}).get("event_id")
        if event_id:
            # Off the pending list: the inbox re-dispatch must not run a dead letter again.
            deps.store.mark_event(str(event_id), "failed")
        deps.store.dead_letter(
            self.name,
            self.request.args or [],
            self.request.kwargs or {},
            f"{type(exc).__name__}: {reason}",
            task_id=self.request.id,
        )


def flow_task(name: str) -> Callable[[F], Any]:
    return app.task(name=name, bind=True, base=FlowTask)


@flow_task("ats.process_event")
def process_ats_event(self: FlowTask, event_id: str) -> str:
    return self.run_flow(request_flows.process_ats_event, event_id)


@flow_task("crosschq.process_webhook")
def process_crosschq_webhook(self: FlowTask, event_id: str) -> str:
    return self.run_flow(result_flows.process_crosschq_webhook, event_id)


@flow_task("references.request")
def request_reference(self: FlowTask, connector: str, application_id: str, jobrole: str | None = None) -> str:
    def flow(deps: Deps, *, owner: str) -> str:
        return request_flows.consider_application(
            deps, deps.connector(connector), str(application_id), owner=owner, jobrole=jobrole
        )

    return self.run_flow(flow)


@flow_task("references.sync")
def sync_reference(self: FlowTask, request_id: str, due: float | None = None) -> str:
    return self.run_flow(actions.sync, request_id, due=due)


@flow_task("references.cancel")
def cancel_reference(self: FlowTask, request_id: str, due: float | None = None) -> str:
    return self.run_flow(actions.cancel, request_id, due=due)


@flow_task("references.conclude")
def conclude_reference(self: FlowTask, request_id: str, due: float | None = None) -> str:
    return self.run_flow(actions.conclude, request_id, due=due)


@flow_task("references.remind")
def remind_reference(self: FlowTask, request_id: str, due: float | None = None) -> str:
    return self.run_flow(actions.remind, request_id, due=due)


# -- beat (flow C): each scan enqueues the per-request tasks above for what is due ------------------
@flow_task("schedule.send_due_reminders")
def send_due_reminders(self: FlowTask) -> str:
    return self.run_flow(scans.send_due_reminders)


@flow_task("schedule.conclude_due")
def conclude_due(self: FlowTask) -> str:
    return self.run_flow(scans.conclude_due)


@flow_task("schedule.reconcile_stale")
def reconcile_stale(self: FlowTask) -> str:
    return self.run_flow(scans.reconcile_stale)


@flow_task("schedule.refresh_jobroles")
def refresh_jobroles(self: FlowTask) -> str:
    return self.run_flow(scans.refresh_jobroles)


@flow_task("schedule.redispatch_inbox")
def redispatch_inbox(self: FlowTask) -> str:
    return self.run_flow(scans.redispatch_inbox)


@app.task(name="health.canary")
def canary() -> str:
    get_deps().store.touch_canary()
    return "ok"


__all__ = ["Retry", "canary"]
