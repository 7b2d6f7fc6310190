"""Priority scoring: a number for ordering and a breakdown a person can read.

score = sum of labelled parts. The points each input is worth are `Weights`: admins edit them
(`moderation.cases.models.PriorityWeights`), and `DEFAULT_WEIGHTS` are what a new deployment starts with.
"""

import math
from dataclasses import dataclass, field, fields
from datetime import datetime
from types import MappingProxyType

from reports.categories import SEVERITY, Category

# A reporter's record counts only once this many of their reports have been decided: two lucky
# guesses are not a track record.
RELIABILITY_MIN_REPORTS = 5


class BankMatch:
    """How strong the best bank match among a case's media is (Case.bank_match_level)."""

    NONE = 0
    BANK = 1
    # A bank of known material (policy act_and_escalate): the very top of the queue.
    KNOWN_MATERIAL = 2


@dataclass(frozen=True)
class Weights:
    severity: MappingProxyType = field(
        default_factory=lambda: MappingProxyType({str(k): v for k, v in SEVERITY.items()})
    )
    involves_child: int = 200
    bank_match: int = 500
    # Outranks everything else: known CSAM goes to the very top (checked in PriorityWeights.clean).
    known_material_match: int = 5000
    per_extra_reporter: int = 10
    max_reporter_points: int = 100
    # Points for a classifier score of 1.0; a score of 0.93 earns 93% of them.
    flag_score_weight: int = 100
    # Points for a reporter all of whose past reports were upheld; 80% upheld earns 80% of them.
    reliability_weight: int = 50
    # Reach counts on a log scale: points per tenfold audience (10 views, 100, 1,000 ...), capped.
    reach_points_per_decade: int = 10
    max_reach_points: int = 60
    per_waiting_hour: int = 5
    max_waiting_points: int = 120
    # Time past the queue's SLA: points on the breach, and for each hour (begun) beyond it, capped.
    sla_breach: int = 150
    per_hour_past_sla: int = 50
    max_sla_points: int = 400

    @classmethod
    def number_fields(cls) -> list[str]:
        return [f.name for f in fields(cls) if f.name != "severity"]

    def max_points_without_known_material(self) -> int:
        """The most a case can score without a known-material match."""
        return (
            max(self.severity.values(), default=0)
            + self.involves_child
            + self.bank_match
            + self.max_reporter_points
            + self.flag_score_weight
            + self.reliability_weight
            + self.max_reach_points
            + self.max_waiting_points
            + self.max_sla_points
        )


DEFAULT_WEIGHTS = Weights()


@dataclass(frozen=True)
class PriorityInputs:
    category: str
    involves_child: bool
    reporters_count: int
    max_flag_score: float | None
    waiting_since: datetime
    bank_match_label: str = ""
    bank_match_level: int = BankMatch.NONE
    # Share (0..1) of past reports upheld, for the most reliable reporter with a long enough record.
    reporter_reliability: float | None = None
    # Views or audience size the platform reported for the content.
    reach: int | None = None
    # The SLA of the case's queue (Queue.sla_minutes): time past it weighs in.
    sla_minutes: int | None = None


def sla_overdue_minutes(*, waiting_since: datetime, sla_minutes: int | None, now: datetime) -> int:
    """Minutes a case has waited beyond its queue's SLA (0 within it, or without one)."""
    if not sla_minutes:
        return 0
    waited = (now - waiting_since).total_seconds() / 60
    return max(0, math.floor(waited - sla_minutes))


def hours_text(minutes: int) -> str:
    """An SLA or a delay as people say it: "45 min", "1 h", "1.5 h", "24 h"."""
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes / 60
    return f"{hours:g} h" if hours >= 10 or hours == int(hours) else f"{hours:.1f} h"


def reach_points(reach: int, weights: Weights) -> int:
    if reach <= 0:
        return 0
    return min(round(math.log10(reach) * weights.reach_points_per_decade), weights.max_reach_points)


def compute_priority(
    inputs: PriorityInputs, *, now: datetime, weights: Weights = DEFAULT_WEIGHTS
) -> tuple[int, list[dict]]:
    w = weights
    parts = [
        (
            f"category {Category(inputs.category).label.lower()}",
            w.severity.get(inputs.category, 0),
        ),
    ]
    if inputs.bank_match_level == BankMatch.KNOWN_MATERIAL:
        parts.append((inputs.bank_match_label, w.known_material_match))
    elif inputs.bank_match_level == BankMatch.BANK:
        parts.append((inputs.bank_match_label, w.bank_match))
    if inputs.involves_child:
        parts.append(("involves a child", w.involves_child))
    if inputs.reporters_count > 1:
        points = min((inputs.reporters_count - 1) * w.per_extra_reporter, w.max_reporter_points)
        parts.append((f"{inputs.reporters_count} reporters", points))
    if inputs.max_flag_score is not None:
        points = round(inputs.max_flag_score * w.flag_score_weight)
        parts.append((f"classifier score {inputs.max_flag_score:.2f}", points))
    if inputs.reporter_reliability is not None:
        share = round(inputs.reporter_reliability * 100)
        # Only the figure: who the reporter is never reaches the reviewer.
        label = (
            f"reporter usually right ({share}% upheld)"
            if share >= 50
            else f"reporter seldom right ({share}% upheld)"
        )
        parts.append((label, round(inputs.reporter_reliability * w.reliability_weight)))
    if inputs.reach:
        parts.append((f"reach {inputs.reach:,} views", reach_points(inputs.reach, w)))
    hours = int((now - inputs.waiting_since).total_seconds() // 3600)
    if hours > 0:
        parts.append((f"waiting {hours} h", min(hours * w.per_waiting_hour, w.max_waiting_points)))
    overdue = sla_overdue_minutes(
        waiting_since=inputs.waiting_since, sla_minutes=inputs.sla_minutes, now=now
    )
    if overdue:
        # Every hour begun past the SLA counts: a case 5 minutes late is already late.
        points = min(w.sla_breach + math.ceil(overdue / 60) * w.per_hour_past_sla, w.max_sla_points)
        label = f"past its {hours_text(inputs.sla_minutes)} SLA by {hours_text(overdue)}"
        parts.append((label, points))
    parts = [(label, points) for label, points in parts if points]
    parts.sort(key=lambda p: -p[1])
    return sum(p for _, p in parts), [{"label": label, "points": p} for label, p in parts]
