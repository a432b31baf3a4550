"""Write-backs that must land exactly once (notes, attachments, stage moves).

Greenhouse has no idempotency key on POSTs, so the worker keeps a ledger per request
(:mod:`worker.guards`): a write is claimed, performed, then marked done.

- Another live task holding the same write: :class:`WriteInFlight` (retry when its time is up).
- The same task again (a retry or a redelivery after a crash): it resumes the write.
- A call that failed in a way that may have landed (timeout, connection reset, an unreadable 2xx)
  leaves the write *uncertain*; whoever takes it next first asks the ATS whether it is there
  (``landed``) and writes only if it is not, or if the ATS cannot tell.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from config.logs import get_logger
from connectors.ats import ApplicationRef, AtsConnector
from connectors.errors import RetryableError, ServerError, TransportError
from worker.store import Store

log = get_logger("worker.ledger")
T = TypeVar("T")


class WriteInFlight(RetryableError):
    """Another task is performing this write-back right now."""


def _may_have_landed(exc: BaseException) -> bool:
    if isinstance(exc, TransportError):
        return True
    return isinstance(exc, ServerError) and (exc.status is None or exc.status < 300)


def once(
    store: Store,
    ledger_id: str,
    key: str,
    owner: str,
    action: Callable[[], T],
    *,
    landed: Callable[[], bool | None] | None = None,
) -> bool:
    """Run ``action`` unless the ledger says ``key`` was already done; True when it ran."""
    state = store.guards.begin(ledger_id, key, owner)
    if state == "done":
        log.debug("writeback.skipped", ledger=ledger_id, key=key)
        return False
    if state not in ("go", "uncertain"):
        raise WriteInFlight(f"write-back {key} is in progress elsewhere", retry_after=float(state) + 1)
    if state == "uncertain" and landed is not None and landed():
        store.guards.done(ledger_id, key)
        log.info("writeback.found_landed", ledger=ledger_id, key=key)
        return False
    try:
        action()
    except BaseException as exc:
        if _may_have_landed(exc):
            store.guards.uncertain(ledger_id, key, owner)
        else:
            store.guards.abort(ledger_id, key, owner)
        raise
    store.guards.done(ledger_id, key)
    log.info("writeback.applied", ledger=ledger_id, key=key)
    return True


def note_once(
    store: Store,
    ledger_id: str,
    key: str,
    owner: str,
    connector: AtsConnector,
    ref: ApplicationRef,
    body: str,
) -> bool:
    """Add the note ``body`` unless the ledger has ``key`` already."""
    return once(
        store,
        ledger_id,
        key,
        owner,
        lambda: connector.add_note(ref, body),
        landed=lambda: connector.has_note(ref, body),
    )


def attach_once(
    store: Store,
    ledger_id: str,
    key: str,
    owner: str,
    connector: AtsConnector,
    ref: ApplicationRef,
    filename: str,
    content: Callable[[], bytes],
) -> bool:
    """Attach the PDF ``content()`` as ``filename`` unless the ledger has ``key`` already."""
    return once(
        store,
        ledger_id,
        key,
        owner,
        lambda: connector.attach_report(ref, filename, content()),
        landed=lambda: connector.has_attachment(ref, filename),
    )
