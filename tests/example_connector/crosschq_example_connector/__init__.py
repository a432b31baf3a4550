"""An example of a connector shipped outside the worker's repository.

It is found through the ``crosschq_worker.ats_connectors`` entry point declared in this
package's ``pyproject.toml``; the worker never imports it by name. A real connector would talk to
its ATS over HTTP; this one reuses the in-memory fake and seeds one demo application so that the
contract suite has something to read.
"""

from __future__ import annotations

from typing import Any, ClassVar

from connectors.fake import InMemoryConnector
from connectors.http import RateLimiter

DEMO_APPLICATION_ID = "ex-100"
DEMO_APPLICATION_WITHOUT_EMAIL_ID = "ex-101"


class ExampleConnector(InMemoryConnector):
    name: ClassVar[str] = "example"

    @classmethod
    def from_settings(cls, settings: Any, *, limiter: RateLimiter | None = None) -> ExampleConnector:
        connector = cls(limiter=limiter)
        connector.seed_application(
            DEMO_APPLICATION_ID,
            candidate_id="ex-c-100",
            first_name="Example",
            last_name="Candidate",
            emails=[("example.candidate@example.com", "personal")],
            phones=[("+1 555 0199", "mobile")],
            recruiter={
                "id": "ex-u-1",
                "first_name": "Example",
                "last_name": "Recruiter",
                "email": "example.recruiter@example.com",
            },
        )
        connector.seed_application(
            DEMO_APPLICATION_WITHOUT_EMAIL_ID, first_name="No", last_name="Email", emails=[]
        )
        return connector
