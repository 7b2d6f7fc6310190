"""Child-safety signals a reviewer cannot close quietly.

A case whose media matched a bank of known material, or whose material a decision classified A1-B2,
carries a signal stronger than any one reviewer's reading of it. On such a case only "Escalate to
authority" (remove, suspend, report) closes it from a reviewer's hands; "No violation" and every
milder action become a referral to senior review with the reason written on the decision, and the
page says so before the reviewer records anything. A senior reviewer's decision is the second look
and stands (a known-material match can be a false positive; they are who says so).
"""

from accounts import roles
from moderation.cases.models import Case
from moderation.cases.priority import BankMatch
from moderation.decisions.models import Decision

# What closes a signalled case from a reviewer's hands: the CSAM finding's action, or the
# referral itself.
UNGUARDED_ACTIONS = frozenset({Decision.Action.ESCALATE, Decision.Action.SENIOR_REVIEW})


def case_signals(case: Case) -> list[str]:
    """Why this case carries a child-safety signal, in words ([] when it carries none). Read once
    per case object: the page asks for the form's labels and for its notice."""
    cached = getattr(case, "_child_safety_signals", None)
    if cached is None:
        cached = case._child_safety_signals = _read_signals(case)
    return cached


def _read_signals(case: Case) -> list[str]:
    signals = []
    if case.bank_match_level >= BankMatch.KNOWN_MATERIAL:
        signals.append(f"its media matches known material ({case.bank_match_label})")
    classes = sorted(
        {d.classification for d in case.decisions.all() if d.classification}
        if _prefetched(case, "decisions")
        else set(case.decisions.exclude(classification="").values_list("classification", flat=True))
    )
    if classes:
        signals.append(f"a decision on it classified the material {'/'.join(classes)}")
    return signals


def _prefetched(case: Case, name: str) -> bool:
    return name in getattr(case, "_prefetched_objects_cache", {})


def is_guarded_for(user) -> bool:
    """Senior reviewers (and up) decide signalled cases; everyone else refers them."""
    return not user.has_perm(roles.SENIOR_REVIEW)


def referral_reason(*, case: Case, user, action: str) -> str:
    """Why this decision must go to senior review instead ("" when it may close the case)."""
    if action in UNGUARDED_ACTIONS or not is_guarded_for(user):
        return ""
    signals = case_signals(case)
    if not signals:
        return ""
    return f"Sent to senior review because {' and '.join(signals)}."[:300]


def guard_notice(*, case: Case, user) -> str:
    """What the decision panel says before the reviewer chooses ("" when nothing is guarded)."""
    if not is_guarded_for(user):
        return ""
    signals = case_signals(case)
    if not signals:
        return ""
    return (
        f"This case carries a child-safety signal: {' and '.join(signals)}. Only “Escalate to "
        "authority” closes it from here; “No violation” and every milder action send it to "
        "senior review with that reason."
    )
