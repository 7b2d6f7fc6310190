"""An escalation's history in words: "Approved by sen", "Sent back to draft by sen: add the
caption", not the codes the audit log stores ("escalation.approved") or its states
("awaiting_approval"). The page keeps the code on hover (templates/moderation/escalations/
detail.html); the audit log itself is unchanged.
"""

from collections.abc import Callable

from moderation.audit.models import AuditEvent
from moderation.escalations.models import Escalation

S = Escalation.Status
# Who acts when no person does (moderation/audit/services.py SYSTEM, packet.py ACTOR,
# submission.py API_LABEL): their events read without "by ...".
MACHINES = frozenset({"system", "packet assembly", "CyberTipline API"})
# The report's fields, as the form names them.
FIELD_NAMES = {
    "incident_type": "incident type",
    "incident_summary": "what happened",
    "annotations": "concerns",
    "urgent": "urgency",
    "urgent_reason": "why it is urgent",
}
# A note is quoted in full up to this length; the rest is on the audit log.
NOTE_LENGTH = 200


def status_name(value) -> str:
    """A state in words ("awaiting_approval" is "awaiting approval")."""
    try:
        return S(value).label.lower()
    except ValueError:
        return str(value).replace("_", " ")


def _by(event: AuditEvent) -> str:
    label = event.actor_label
    return "" if not label or label in MACHINES else f" by {label}"


def _note(text) -> str:
    text = str(text or "").strip()
    if not text:
        return ""
    if len(text) > NOTE_LENGTH:
        text = text[: NOTE_LENGTH - 1] + "…"
    return f": {text}"


def _details(event, after, before, by) -> str:
    # In the form's order (PostgreSQL's jsonb keeps no order of its own).
    fields = [name for f, name in FIELD_NAMES.items() if f in after]
    fields += sorted(f.replace("_", " ") for f in after if f not in FIELD_NAMES)
    return f"Report edited{by}" + (f" ({', '.join(fields)})" if fields else "")


def _case_added(event, after, before, by) -> str:
    if "from_escalation" in after:
        return f"Cases of escalation {after['from_escalation']} added{by}"
    return f"Case {after['case']} added{by}" if "case" in after else f"Case added{by}"


def _cases_gathered(event, after, before, by) -> str:
    cases = ", ".join(str(pk) for pk in after.get("cases", []))
    return f"Evidence added (cases {cases}){by}"


def _submitted(event, after, before, by) -> str:
    report = f" as report {after['report_id']}" if after.get("report_id") else ""
    if after.get("via") == Escalation.SubmittedVia.API:
        return f"Submitted to the CyberTipline{report}"
    return f"Marked submitted{report}{by}"


def _submission_started(event, after, before, by) -> str:
    verb = "resumed" if after.get("resuming") else "started"
    return f"Submission to the CyberTipline {verb}{by}"


def _hold_set(event, after, before, by) -> str:
    until = after.get("legal_hold_until") or after.get("until")
    return f"Legal hold set{by}" + (f" until {str(until)[:10]}" if until else "")


Describe = Callable[[AuditEvent, dict, dict, str], str]
LABELS: dict[str, Describe] = {
    "escalation.opened": lambda e, a, b, by: f"Opened{by}",
    "escalation.case_added": _case_added,
    "escalation.cases_gathered": _cases_gathered,
    "escalation.details_changed": _details,
    "escalation.approval_requested": lambda e, a, b, by: f"Sent for approval{by}",
    "escalation.approved": lambda e, a, b, by: f"Approved{by}",
    "escalation.returned": lambda e, a, b, by: f"Sent back to draft{by}{_note(a.get('note'))}",
    "escalation.merged": lambda e, a, b, by: f"Merged into escalation {a.get('into')}{by}",
    "escalation.withdrawn": lambda e, a, b, by: f"Withdrawn{by}{_note(a.get('note'))}",
    "escalation.assembled": lambda e, a, b, by: "Packet assembled",
    "escalation.assembly_failed": lambda e, a, b, by: (
        f"Packet assembly failed{_note(a.get('reason'))}"
    ),
    "escalation.assembly_retried": lambda e, a, b, by: f"Packet assembly started again{by}",
    "escalation.packet_downloaded": lambda e, a, b, by: f"Packet downloaded{by}",
    "escalation.submission_started": _submission_started,
    "escalation.report_opened": lambda e, a, b, by: (
        f"Report {a.get('report_id')} opened at the CyberTipline"
    ),
    "escalation.transcript_uploaded": lambda e, a, b, by: (
        f"Transcript {a.get('name')} sent to the CyberTipline with report {a.get('report_id')}"
    ),
    "escalation.transcript_details_sent": lambda e, a, b, by: (
        f"Details of transcript {a.get('name')} sent to the CyberTipline"
    ),
    "escalation.submission_failed": lambda e, a, b, by: (
        f"Submission to the CyberTipline failed{_note(a.get('reason'))}"
    ),
    "escalation.submission_retracted": lambda e, a, b, by: (
        f"Unfinished report {b.get('report_id')} retracted at the CyberTipline{by}"
    ),
    "escalation.submitted": _submitted,
    "escalation.acknowledged": lambda e, a, b, by: f"Marked acknowledged by the authority{by}",
    "escalation.legal_hold_set": _hold_set,
    "escalation.legal_hold_lifted": lambda e, a, b, by: (
        f"Legal hold lifted{by}{_note(a.get('reason'))}"
    ),
    "escalation.evidence_deleted": lambda e, a, b, by: (
        "Evidence deleted when its preservation ended"
    ),
}


def describe(event: AuditEvent) -> str:
    """The event in a sentence for people. A code not named above still reads as words, with the
    state it moved to, if any ("Frozen by sen (now awaiting approval)")."""
    after = event.after if isinstance(event.after, dict) else {}
    before = event.before if isinstance(event.before, dict) else {}
    by = _by(event)
    label = LABELS.get(event.verb)
    if label is not None:
        try:
            return label(event, after, before, by)
        except (KeyError, TypeError, ValueError):
            pass  # an older event missing a detail: say what kind of event it was
    words = event.verb.rpartition(".")[2].replace("_", " ").strip() or event.verb
    text = words[:1].upper() + words[1:] + by
    if "status" in after:
        text += f" (now {status_name(after['status'])})"
    return text
