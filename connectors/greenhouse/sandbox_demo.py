"""The demo organisation the Greenhouse sandbox starts with (``seed_demo=True``).

Every name, address and number is fake: e-mail addresses use example.com and phone
numbers the 555-01xx range reserved for fiction. Ids are fixed so tests can name them:

- users 1001 integration user, 1002 recruiter, 1003 coordinator, 1004 and 1005 hiring
  managers, 1006 sourcer;
- job 4001 "Business Consultant" (Consulting, Remote) with stages 40011 Application
  Review, 40012 Phone Screen, 40013 Reference Check, 40014 Offer; job 4002 "Data Engineer"
  (Engineering, Remote) with stages 40021-40024 of the same names;
- candidate 5001 (two e-mails, two phones, tags, recruiter and coordinator) with
  application 6001 on job 4001 in Phone Screen; candidate 5002 without any e-mail address
  (application 6002, job 4001, Phone Screen); candidate 5003 without recruiter or
  coordinator but with ``credited_to`` set (application 6003, job 4002, Phone Screen);
- application custom fields 8001 ``crosschq_status`` (single_select), 8002
  ``crosschq_progress`` (number), 8003 ``crosschq_score`` (number), 8004
  ``crosschq_report_url`` (url); candidate field 8101 ``crosschq_candidate_report``
  (url); job field 8201 ``employment_type`` (single_select).
"""

from __future__ import annotations

from connectors.greenhouse.sandbox_state import JsonDict

CROSSCHQ_STATUSES = (
    "Sent", "Accepted", "Assigning", "Collecting", "Completed", "Concluded", "Auto-concluded",
    "Canceled", "Canceled by candidate", "Auto-canceled", "Declined", "Failed",
)
STAGES = ("Application Review", "Phone Screen", "Reference Check", "Offer")
SEED_TIME = "2025-01-06T09:00:00.000Z"


def _user(user_id: int, first: str, last: str, email: str) -> JsonDict:
    return {"id": user_id, "first_name": first, "last_name": last,
            "email": f"{email}@example.com", "employee_id": f"EMP-{user_id}"}


def _stages(job_id: int) -> list[JsonDict]:
    return [{"id": job_id * 10 + n, "name": name} for n, name in enumerate(STAGES, start=1)]


def _custom_fields() -> list[JsonDict]:
    status_options = [{"id": 80011 + n, "name": name} for n, name in enumerate(CROSSCHQ_STATUSES)]
    return [
        {"id": 8001, "name": "Crosschq Status", "name_key": "crosschq_status",
         "field_type": "application", "value_type": "single_select", "options": status_options},
        {"id": 8002, "name": "Crosschq Progress", "name_key": "crosschq_progress",
         "field_type": "application", "value_type": "number"},
        {"id": 8003, "name": "Crosschq Score", "name_key": "crosschq_score",
         "field_type": "application", "value_type": "number"},
        {"id": 8004, "name": "Crosschq Report URL", "name_key": "crosschq_report_url",
         "field_type": "application", "value_type": "url"},
        {"id": 8101, "name": "Crosschq Candidate Report", "name_key": "crosschq_candidate_report",
         "field_type": "candidate", "value_type": "url"},
        {"id": 8201, "name": "Employment Type", "name_key": "employment_type",
         "field_type": "job", "value_type": "single_select",
         "options": [{"id": 82011, "name": "Full-time"}, {"id": 82012, "name": "Part-time"}]},
    ]


def _jobs() -> list[JsonDict]:
    remote = {"id": 301, "name": "Remote", "location": "Anywhere"}
    return [
        {"id": 4001, "name": "Business Consultant", "requisition_id": "REQ-4001",
         "created_at": SEED_TIME, "opened_at": SEED_TIME,
         "departments": [{"id": 201, "name": "Consulting"}], "offices": [remote],
         "stages": _stages(4001), "custom_fields": {"employment_type": "Full-time"},
         "hiring_team": {
             "hiring_managers": [1004, 1005],
             "recruiters": [{"user_id": 1002, "responsible": True}],
             "coordinators": [{"user_id": 1003, "responsible": True}],
             "sourcers": [1006]}},
        {"id": 4002, "name": "Data Engineer", "requisition_id": "REQ-4002",
         "created_at": SEED_TIME, "opened_at": SEED_TIME,
         "departments": [{"id": 202, "name": "Engineering"}], "offices": [remote],
         "stages": _stages(4002), "custom_fields": {"employment_type": "Full-time"},
         "hiring_team": {
             "hiring_managers": [1005],
             "recruiters": [{"user_id": 1002, "responsible": True}],
             "coordinators": [{"user_id": 1003, "responsible": False}],
             "sourcers": []}},
    ]


def _candidates() -> list[JsonDict]:
    return [
        {"id": 5001, "first_name": "Alex", "last_name": "Example", "title": "Senior Analyst",
         "company": "Example Consulting Ltd", "created_at": SEED_TIME,
         "email_addresses": [
             {"value": "alex.example@example.com", "type": "personal"},
             {"value": "alex.example@work.example.com", "type": "work"}],
         "phone_numbers": [{"value": "+1 415 555 0100", "type": "mobile"},
                           {"value": "+1 415 555 0101", "type": "home"}],
         "tags": ["Sandbox", "Referral"], "recruiter_id": 1002, "coordinator_id": 1003,
         "attachments": [{"filename": "alex_example_resume.pdf", "type": "resume",
                          "created_at": SEED_TIME}]},
        {"id": 5002, "first_name": "Jordan", "last_name": "Noemail", "title": "Consultant",
         "company": "Example Advisory", "created_at": SEED_TIME, "email_addresses": [],
         "phone_numbers": [{"value": "+1 415 555 0102", "type": "mobile"}],
         "tags": ["Sandbox"], "recruiter_id": 1002, "coordinator_id": 1003},
        {"id": 5003, "first_name": "Taylor", "last_name": "Sample", "title": "Data Analyst",
         "company": None, "created_at": SEED_TIME,
         "email_addresses": [{"value": "taylor.sample@example.com", "type": "personal"}],
         "phone_numbers": [{"value": "+1 415 555 0103", "type": "work"}],
         "tags": [], "recruiter_id": None, "coordinator_id": None},
    ]


def _applications() -> list[JsonDict]:
    base = {"stage": "Phone Screen", "applied_at": SEED_TIME, "last_activity_at": SEED_TIME}
    return [
        {**base, "id": 6001, "candidate_id": 5001, "job_id": 4001, "source_id": 702,
         "credited_to_id": 1002, "recruiter_id": 1002, "coordinator_id": 1003},
        {**base, "id": 6002, "candidate_id": 5002, "job_id": 4001, "source_id": 701,
         "credited_to_id": 1002, "recruiter_id": 1002, "coordinator_id": 1003},
        {**base, "id": 6003, "candidate_id": 5003, "job_id": 4002, "source_id": 701,
         "credited_to_id": 1004, "recruiter_id": None, "coordinator_id": None},
    ]


def demo_seed() -> JsonDict:
    """A fresh copy of the demo seed (``sandbox_seed`` format)."""
    return {
        "custom_fields": _custom_fields(),
        "users": [
            _user(1001, "Integration", "User", "integration.user"),
            _user(1002, "Riley", "Recruiter", "riley.recruiter"),
            _user(1003, "Casey", "Coordinator", "casey.coordinator"),
            _user(1004, "Harper", "Manager", "harper.manager"),
            _user(1005, "Morgan", "Manager", "morgan.manager"),
            _user(1006, "Sam", "Sourcer", "sam.sourcer"),
        ],
        "jobs": _jobs(),
        "candidates": _candidates(),
        "applications": _applications(),
    }
