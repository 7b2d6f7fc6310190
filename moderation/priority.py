"""Priority scoring: a number for ordering and a breakdown a person can read.

The prioritisation issue adds bank matches, reporter reliability, reach and admin-set weights;
the shape (score = sum of labelled parts) stays.
"""

from dataclasses import dataclass
from datetime import datetime

from reports.categories import SEVERITY, Category

INVOLVES_CHILD = 200
# A match to a bank of known material outranks everything else; known CSAM goes to the very top.
BANK_MATCH = 500
KNOWN_MATERIAL_MATCH = 5000
PER_EXTRA_REPORTER = 10
MAX_REPORTER_POINTS = 100
FLAG_SCORE_WEIGHT = 100
PER_WAITING_HOUR = 5
MAX_WAITING_POINTS = 120


@dataclass(frozen=True)
class PriorityInputs:
    category: str
    involves_child: bool
    reporters_count: int
    max_flag_score: float | None
    waiting_since: datetime
    bank_match_label: str = ""
    bank_match_points: int = 0


def compute_priority(inputs: PriorityInputs, *, now: datetime) -> tuple[int, list[dict]]:
    parts = [
        (f"category {Category(inputs.category).label.lower()}", SEVERITY[inputs.category]),
    ]
    if inputs.bank_match_points:
        parts.append((inputs.bank_match_label, inputs.bank_match_points))
    if inputs.involves_child:
        parts.append(("involves a child", INVOLVES_CHILD))
    if inputs.reporters_count > 1:
        points = min((inputs.reporters_count - 1) * PER_EXTRA_REPORTER, MAX_REPORTER_POINTS)
        parts.append((f"{inputs.reporters_count} reporters", points))
    if inputs.max_flag_score is not None:
        points = round(inputs.max_flag_score * FLAG_SCORE_WEIGHT)
        parts.append((f"classifier score {inputs.max_flag_score:.2f}", points))
    hours = int((now - inputs.waiting_since).total_seconds() // 3600)
    if hours > 0:
        parts.append((f"waiting {hours} h", min(hours * PER_WAITING_HOUR, MAX_WAITING_POINTS)))
    parts = [(label, points) for label, points in parts if points]
    parts.sort(key=lambda p: -p[1])
    return sum(p for _, p in parts), [{"label": label, "points": p} for label, p in parts]
