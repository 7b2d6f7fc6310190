"""summary.json: what a packet holds, for the people who open it.

Only what the authority needs to read the packet: the reported account, the cases with their
decisions, the files with their hashes, who approved. Never anything about who reported the
content (no reporter identities, no report texts, no uploaders' file names). Built from stored
values only (no "now"), so a retry writes the same bytes.

Each file says what it is (image or video, type, dimensions); a video also its container, codec,
duration, frame rate and rotation, and where its vPDQ is in the packet.
"""

from moderation.decisions.models import Decision
from moderation.escalations import video_evidence
from moderation.escalations.models import Escalation, EscalationFile


def _time(value) -> str | None:
    return value.isoformat() if value else None


def _username(user) -> str | None:
    return user.get_username() if user else None


def _file(f: EscalationFile, video_hashes: dict) -> dict:
    media = f.media
    entry = {
        "name": f.name,
        "case": f.case_id,
        "kind": media.kind,
        "mime": media.mime,
        "width": media.width,
        "height": media.height,
        "sha256": f.sha256,
        "md5": f.md5,
        "pdq": media.pdq,
        "size": f.size,
        "viewed_by_esp": f.viewed_by_esp,
    }
    if media.is_video:
        entry["video"] = video_evidence.facts(media, video_hashes.get(f.media_id), f.name)
    return entry


def summary(escalation: Escalation, files: list[EscalationFile]) -> dict:
    video_hashes = video_evidence.video_hashes(f.media_id for f in files if f.media.is_video)
    cases = list(escalation.cases.select_related("content_item").order_by("pk"))
    decisions: dict[int, list[dict]] = {}
    for d in Decision.objects.filter(case__in=cases).order_by("created_at", "pk"):
        decisions.setdefault(d.case_id, []).append(
            {
                "action": d.action,
                "policy": d.policy,
                "classification": d.classification,
                "intent": d.intent,
                "decided_at": _time(d.created_at),
            }
        )
    handle = next((c.content_item.owner_handle for c in cases if c.content_item.owner_handle), "")
    return {
        "escalation": escalation.pk,
        "authority": escalation.get_authority_display(),
        "reported_account": {"platform_id": escalation.owner_id, "screen_name": handle},
        "incident": {
            "type": escalation.incident_type,
            "summary": escalation.incident_summary,
            "annotations": escalation.annotations,
            "urgent": escalation.urgent,
            "urgent_reason": escalation.urgent_reason,
        },
        "cases": [
            {
                "case": c.pk,
                "category": c.category,
                "involves_child": c.involves_child,
                "content": {
                    "platform_id": c.content_item.platform_id,
                    "url": c.content_item.url,
                    "type": c.content_item.type,
                },
                "opened_at": _time(c.created_at),
                "decided_at": _time(c.decided_at),
                "decisions": decisions.get(c.pk, []),
            }
            for c in cases
        ],
        "files": [_file(f, video_hashes) for f in files],
        "approval": {
            "requested_by": _username(escalation.approval_requested_by),
            "requested_at": _time(escalation.approval_requested_at),
            "approved_by": _username(escalation.approved_by),
            "approved_at": _time(escalation.approved_at),
        },
    }
