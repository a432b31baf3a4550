"""Write-backs that must land exactly once (notes, attachments, stage moves).

Greenhouse has no idempotency key on POSTs, so the worker keeps a ledger per request: a write is
claimed (``pending:<owner>``), performed, then marked ``done``. A claim left by a crashed owner
expires after ten minutes; the same owner (a retry or redelivery of the same task) may resume it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TypeVar

from config.logs import get_logger
from connectors.ats import ApplicationRef, AtsConnector
from worker.store import Store

log = get_logger("worker.ledger")
T = TypeVar("T")


def once(store: Store, ledger_id: str, key: str, owner: str, action: Callable[[], T]) -> bool:
    """Run ``action`` unless the ledger says ``key`` was already done; True when it ran."""
    if not store.ledger_begin(ledger_id, key, owner):
        log.debug("writeback.skipped", ledger=ledger_id, key=key)
        return False
    try:
        action()
    except BaseException:
        store.ledger_abort(ledger_id, key, owner)
        raise
    store.ledger_done(ledger_id, key)
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
    return once(store, ledger_id, key, owner, partial(connector.add_note, ref, body))
