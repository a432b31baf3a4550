"""PDF reports served by the Crosschq sandbox's ``download-report`` endpoint.

The real service returns a "360 Report" as a PDF, in a ``summary`` and a
``full`` variant. Its layout is not documented, so everything here is an
ASSUMPTION except: the answer is a PDF, it names the candidate, and the
``full`` report carries more than the ``summary`` one.

The summary is one page (candidate, position, job role, status, score and a
table of references). The full report adds one page per reference with
deterministic made-up ratings, so the two files always differ. Outstanding
references of a concluded request are listed with the note the Crosschq help
centre quotes ("Request concluded before reference was completed.").

PDFs are written without stream compression so tests can search their text.
Core PDF fonts only cover Latin-1; other characters are replaced by ``?``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

CONCLUDED_NOTE = "Request concluded before reference was completed."
COMPETENCIES = (
    "Communication",
    "Teamwork",
    "Reliability",
    "Problem solving",
    "Leadership",
    "Adaptability",
)


@dataclass(frozen=True)
class ReportReference:
    id: str
    name: str
    relationship: str
    status: str
    workplace_name: str
    job_title: str


@dataclass(frozen=True)
class ReportData:
    request_id: str
    candidate_name: str
    job_position: str
    jobrole_name: str
    status_message: str
    created_on: str
    completed_on: str
    score: float | None
    references: list[ReportReference] = field(default_factory=list)


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def _rating(reference_id: str, competency: str) -> int:
    digest = hashlib.sha256(f"{reference_id}:{competency}".encode()).digest()
    return 3 + digest[0] % 3


def render_report(data: ReportData, kind: str) -> bytes:
    """Render the ``summary`` or ``full`` report as PDF bytes."""
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    pdf = FPDF(format="A4")
    pdf.set_compression(False)
    pdf.set_title(_latin1(f"Crosschq 360 Report - {data.candidate_name}"))
    pdf.set_author("Crosschq sandbox")

    def line(text: str, size: int = 11, style: str = "", height: float = 7) -> None:
        pdf.set_font("Helvetica", style=style, size=size)
        pdf.multi_cell(0, height, _latin1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    pdf.add_page()
    line(f"Crosschq 360 Report ({kind})", size=18, style="B", height=10)
    line(f"Candidate: {data.candidate_name}", size=13, style="B")
    line(f"Job position: {data.job_position or '-'}")
    line(f"Job role: {data.jobrole_name}")
    line(f"Status: {data.status_message}")
    line(f"Requested on: {data.created_on}")
    line(f"Completed on: {data.completed_on or '-'}")
    line(f"Score: {data.score if data.score is not None else 'n/a'}")
    line(f"Request id: {data.request_id}", size=8, height=5)
    pdf.ln(4)
    line("References", size=14, style="B", height=9)
    if not data.references:
        line("No references were provided.")
    for number, ref in enumerate(data.references, start=1):
        note = f" - {CONCLUDED_NOTE}" if ref.status == "canceled" else ""
        line(f"{number}. {ref.name} ({ref.relationship}), {ref.status}{note}")

    if kind == "full":
        for number, ref in enumerate(data.references, start=1):
            pdf.add_page()
            line(f"Reference {number}: {ref.name}", size=15, style="B", height=9)
            line(f"Relationship: {ref.relationship}")
            line(f"Workplace: {ref.workplace_name or '-'}")
            line(f"Job title: {ref.job_title or '-'}")
            line(f"Status: {ref.status}")
            pdf.ln(3)
            if ref.status != "completed":
                line(CONCLUDED_NOTE if ref.status == "canceled" else "No answers were submitted.")
                continue
            line("Ratings (1 to 5)", size=13, style="B", height=8)
            for competency in COMPETENCIES:
                line(f"{competency}: {_rating(ref.id, competency)} / 5")
            pdf.ln(3)
            line("Comments", size=13, style="B", height=8)
            line(
                f"{ref.name} worked with {data.candidate_name} and describes a dependable "
                "colleague who communicates clearly and delivers on commitments."
            )
    return bytes(pdf.output())
