"""summary.json: what a packet holds, for the people who open it.

Only what the authority needs to read the packet: the reported account, the cases with their
decisions, the files with their hashes, who approved. Never anything about who reported the
content (no reporter identities, no report texts, no uploaders' file names). Built from stored
values only (no "now"), so a retry writes the same bytes.

Each file says what it is (image or video, type, dimensions); a video also its container, codec,
duration, frame rate and rotation, and where its vPDQ is in the packet; a file from a conversation
the messages that carried it. Each conversation lists its participants (role, age and how it is
known, e-mail address), its messages' count and times, and where its transcript is: the whole
thread is in the transcript, never here. Whether a participant reported it is never said.

A case about an account itself (an account case) is listed with the others and, under
`account_cases`, with why it was opened (what the account rule counted). The reported account's
handle and e-mail addresses come only from what it owns and from its listings as a participant
(moderation/escalations/cybertip_account.py).
"""

from django.conf import settings

from moderation.decisions.models import Decision
from moderation.escalations import cybertip_chat as chat
from moderation.escalations import video_evidence
from moderation.escalations.cybertip import escalated_content
from moderation.escalations.cybertip_account import account_cases, owned_items
from moderation.escalations.models import Escalation, EscalationFile
from reports.models import Participant


def _time(value) -> str | None:
    return value.isoformat() if value else None


def _username(user) -> str | None:
    return user.get_username() if user else None


def _sent_in(s: chat.SentIn) -> dict:
    return {
        "conversation": s.conversation,
        "message": s.message,
        "sender": s.sender.account_id,
        "sent_at": _time(s.sent_at),
        "reported_message": s.reported,
        "via_link": s.url if s.via_link else None,
    }


def _conversation(escalation: Escalation, item, transcript: str) -> dict:
    cutoff = escalation.approved_at
    facts = chat.thread_facts(item, cutoff)
    participants = Participant.objects.filter(conversation=item)
    if cutoff:
        participants = participants.filter(created_at__lte=cutoff)
    return {
        "platform_id": item.platform_id,
        "url": item.url,
        "transcript": transcript,
        "messages": facts.total,
        "reported_messages": facts.reported,
        "first_sent_at": _time(facts.first_at),
        "last_sent_at": _time(facts.last_at),
        "participants": [
            {
                "account_id": p.account_id,
                "handle": p.handle,
                "display_name": p.display_name,
                "role": p.role,
                "age": p.age,
                "age_source": p.age_source,
                "email": p.email,
                "reported": p.reported or p.account_id == item.owner_id,
                "listed": p.listed,
            }
            for p in participants.order_by("pk")
        ],
    }


def _file(f: EscalationFile, video_hashes: dict, sent_in: dict) -> dict:
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
    if f.sha256 in sent_in:
        entry["sent_in"] = [_sent_in(s) for s in sent_in[f.sha256]]
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
    items = escalated_content(escalation)
    owned = owned_items(items, escalation.owner_id)
    handle = next((item.owner_handle for item in owned if item.owner_handle), "")
    emails = [item.owner_email for item in owned if item.owner_email]
    if escalation.owner_id:
        listed = Participant.objects.filter(
            conversation__in=items, account_id=escalation.owner_id
        ).exclude(email="")
        if escalation.approved_at:
            listed = listed.filter(created_at__lte=escalation.approved_at)
        emails += listed.order_by("pk").values_list("email", flat=True)
    emails = list(dict.fromkeys(emails))
    transcripts = chat.transcript_names(items)
    sent_in = chat.files_sent_in(files)
    return {
        "escalation": escalation.pk,
        "authority": escalation.get_authority_display(),
        "reported_account": {
            "platform_id": escalation.owner_id,
            "screen_name": handle,
            "emails": emails,
        },
        "account_cases": [
            {
                "account": a.account_id,
                "cases": list(a.case_ids),
                "minor_contacts": a.minor_contacts,
                "reported_items": a.reported_items,
                "why": a.words(settings.VIGIL_PLATFORM_NAME),
            }
            for a in account_cases(escalation, items, escalation.approved_at)
        ],
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
        "conversations": [
            _conversation(escalation, item, transcripts[item.pk])
            for item in items
            if item.pk in transcripts
        ],
        "files": [_file(f, video_hashes, sent_in) for f in files],
        "approval": {
            "requested_by": _username(escalation.approval_requested_by),
            "requested_at": _time(escalation.approval_requested_at),
            "approved_by": _username(escalation.approved_by),
            "approved_at": _time(escalation.approved_at),
        },
    }
