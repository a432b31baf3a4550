"""Harvest paths, v1 and v3, in one place.

v1 paths are those of the Harvest docs (``harvest/_applications.md``, ``_candidates.md``,
``_jobs.md``, ``_job_stages.md``, ``_users.md``). v3 (harvestdocs.greenhouse.io migration guides)
keeps the resources under ``/v3`` but lists job stages with a ``job_id`` filter
(``GET /v3/job_stages?job_id=N``) and makes notes their own collection (``POST /v3/notes`` with
``candidate_id`` in the body). ``{id}`` is replaced by the record's id; the template itself is
what gets logged, so ids never reach the logs as part of a path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ApiVersion = Literal["v1", "v3"]


@dataclass(frozen=True)
class Routes:
    """Path templates (``{id}`` is the record id) for one Harvest version."""

    application: str
    candidate: str
    job: str
    job_stages: str
    job_stages_param: str | None  # v3 lists stages with a job_id filter instead of a nested path
    hiring_team: str
    user: str
    users: str
    note: str
    notes: str  # reading notes back: v1 the activity feed, v3 the notes collection by candidate
    attachment: str
    move: str


ROUTES: dict[str, Routes] = {
    "v1": Routes(
        application="v1/applications/{id}",
        candidate="v1/candidates/{id}",
        job="v1/jobs/{id}",
        job_stages="v1/jobs/{id}/stages",
        job_stages_param=None,
        hiring_team="v1/jobs/{id}/hiring_team",
        user="v1/users/{id}",
        users="v1/users",
        note="v1/candidates/{id}/activity_feed/notes",
        notes="v1/candidates/{id}/activity_feed",
        attachment="v1/applications/{id}/attachments",
        move="v1/applications/{id}/move",
    ),
    "v3": Routes(
        application="v3/applications/{id}",
        candidate="v3/candidates/{id}",
        job="v3/jobs/{id}",
        job_stages="v3/job_stages",
        job_stages_param="job_id",
        hiring_team="v3/jobs/{id}/hiring_team",
        user="v3/users/{id}",
        users="v3/users",
        note="v3/notes",
        notes="v3/notes",
        attachment="v3/applications/{id}/attachments",
        move="v3/applications/{id}/move",
    ),
}
