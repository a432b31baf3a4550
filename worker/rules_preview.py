"""``crosschq-worker rules test``: what a trigger would send for one application, sending nothing.

The application is read from the ATS, the rules are evaluated exactly as flow A evaluates them
(:func:`worker.triggers.matching_trigger`, :func:`worker.triggers.build_request`), and the request
is validated against Crosschq's job-role catalogue. Personal data is masked in the output: names
keep their initial, e-mail addresses their domain, phone numbers their last two digits.
"""

from __future__ import annotations

import re
from typing import Any

from config.errors import WorkerError
from config.rules import Trigger, load_rules
from config.settings import Settings
from connectors import registry
from connectors.ats import Application, Stage
from connectors.crosschq.client import CrosschqClient
from connectors.crosschq.models import JobRole
from connectors.crosschq.validation import validate_create
from connectors.errors import MappingError, RequestValidationError
from worker.triggers import build_request, matching_trigger

NAME_KEYS = {"first_name", "last_name", "requestor_first_name", "requestor_last_name"}
PHONE_KEYS = {"mobile_phone", "phone"}
EMAIL = re.compile(r"[^@\s]+@([^@\s]+)")


def mask_value(key: str, value: Any) -> Any:
    if not isinstance(value, str) or not value:
        return value
    if key in NAME_KEYS:
        return value[0] + "***"
    if key in PHONE_KEYS:
        digits = re.sub(r"\D", "", value)
        return "***" + digits[-2:]
    return EMAIL.sub(lambda m: "***@" + m.group(1), value)


def mask(data: Any, key: str = "") -> Any:
    """A copy of ``data`` with personal data masked (by key, and any e-mail address anywhere)."""
    if isinstance(data, dict):
        return {k: mask(v, k) for k, v in data.items()}
    if isinstance(data, list):
        return [mask(item, key) for item in data]
    return mask_value(key, data)


def describe(application: Application) -> dict[str, Any]:
    job = application.job
    return {
        "application_id": application.id,
        "candidate_id": application.candidate.id,
        "status": application.status,
        "stage": application.stage.name if application.stage else None,
        "job": {"id": job.id, "name": job.name, "departments": list(job.departments)} if job else None,
        "tags": list(dict.fromkeys([*application.tags, *application.candidate.tags])),
    }


def catalogue_or_note(settings: Settings) -> tuple[list[JobRole] | None, str | None]:
    if not settings.crosschq.api_token.get_secret_value():
        return None, "CROSSCHQ_API_TOKEN is empty: job role and relationships not checked"
    try:
        return CrosschqClient.from_settings(settings).list_jobroles(), None
    except WorkerError as exc:
        return None, f"job-role catalogue unavailable ({exc}): job role and relationships not checked"


def preview(
    settings: Settings, connector: str, application_id: str, *, stage: str | None = None
) -> tuple[dict[str, Any], bool]:
    """The report to print, and whether a request would be sent."""
    rules = load_rules(settings.rules.rules_file)
    application = registry.load(connector, settings).get_application(application_id)
    report: dict[str, Any] = {"connector": connector, "application": describe(application)}
    if stage is not None:
        application = application.model_copy(update={"stage": Stage(id="assumed", name=stage)})
        report["assumed_stage"] = stage
    if application.status != "active":
        report["outcome"] = f"nothing: the application is {application.status}"
        return report, False
    trigger = matching_trigger(rules, application)
    if trigger is None:
        names = ", ".join(f"{t.name} (stage {t.stage!r})" for t in rules.triggers) or "none"
        report["outcome"] = f"nothing: no trigger matches; triggers: {names}"
        return report, False
    report["trigger"] = trigger.name
    return _build(settings, application, trigger, rules.default_requestor_email, report)


def _build(
    settings: Settings,
    application: Application,
    trigger: Trigger,
    default_requestor: str | None,
    report: dict[str, Any],
) -> tuple[dict[str, Any], bool]:
    try:
        request = build_request(application, trigger, default_requestor=default_requestor)
    except MappingError as exc:
        report["outcome"] = f"refused: {exc.message}"
        return report, False
    catalogue, note = catalogue_or_note(settings)
    if note:
        report["warning"] = note
    try:
        request = validate_create(request, catalogue, default_region=settings.crosschq.default_region)
    except RequestValidationError as exc:
        report["outcome"] = "refused: the request is invalid"
        report["problems"] = exc.field_errors
        report["request"] = mask(request.model_dump(mode="json", exclude_none=True))
        return report, False
    report["outcome"] = "would send this request to Crosschq"
    report["request"] = mask(request.model_dump(mode="json", exclude_none=True))
    return report, True
