"""What the audit log's codes mean, in words: "case.decided" is "Case decided", an event about
"moderation.escalation" 3 is about "Escalation 3".

One mapping for every page that shows audit events. The codes stay what the log stores (and
what the filters, the CSV export and the hash chain use); these names are only for reading.
A code missing here still reads as words (`event_name`'s fallback), but the test
tests/moderation/supervision/test_audit_names.py fails until every event the code writes is named.
"""

from django.apps import apps

# The apps whose models are Vigil's own: the object types an audit event can be about.
VIGIL_APPS = ("accounts", "reports", "moderation")

EVENT_NAMES = {
    # Intake
    "report.received": "Report received",
    "flag.received": "Automated flag received",
    # Cases
    "case.opened": "Case opened",
    "case.reopened": "Case reopened",
    "case.claimed": "Case claimed",
    "case.released": "Case released",
    "case.reassigned": "Case reassigned",
    "case.rerouted": "Case moved to another queue",
    "case.decided": "Case decided",
    # Media
    "media.viewed": "Media viewed",
    "media.watched": "Video watched",
    "media.view_refused": "Media view refused",
    "media.hashed": "Media hashed",
    "media.matched": "Media matched a hash bank",
    "media.strip_made": "Video stills made",
    # Links in reports, flags and messages (reports/links.py)
    "link.fetched": "Link fetched",
    "link.refused": "Link refused",
    "link.failed": "Link could not be fetched",
    # Hash banks
    "hash.lookup": "Hash looked up",
    "bank.imported": "Hash list imported",
    "bank.confirmed_by_review": "Added to a bank on review",
    "bank.confirmation_withdrawn": "Bank addition withdrawn",
    "bankentry.removed": "Bank entry removed",
    "bankentry.withdrawn": "Bank entry withdrawn at source",
    "bankentry.quarantined": "Bank entry quarantined (flood guard)",
    "bankentry.released": "Bank entry released from quarantine",
    "case.bank_matches_reapplied": "Case brought in line with its bank matches",
    # Hash exchanges
    "exchange.created": "Exchange added",
    "exchange.changed": "Exchange changed",
    "exchange.deleted": "Exchange deleted",
    "exchange.sync_requested": "Exchange sync asked for",
    "exchange.sync_started": "Exchange sync started",
    "exchange.synced": "Exchange synced",
    "exchange.sync_failed": "Exchange sync failed",
    "exchange.entries_withdrawn": "Exchange entries withdrawn",
    "exchange.feedback_sent": "Feedback sent to an exchange",
    "exchange.feedback_pending": "Feedback to an exchange not taken; to be tried again",
    "exchange.feedback_failed": "Feedback to an exchange given up",
    # Published feeds (docs/feeds.md)
    "feedtoken.created": "Feed token created",
    "feedtoken.revoked": "Feed token revoked",
    "feed.read": "Published bank read by a partner",
    # Enforcement
    "action.requested": "Enforcement action requested",
    "action.delivered": "Enforcement action delivered",
    "action.delivery_failed": "Enforcement delivery failed",
    "action.delivery_resent": "Enforcement delivery resent",
    "action.reversed": "Enforcement action reversed",
    # Reporter notices
    "notice.sent": "Reporter notified",
    "notice.failed": "Reporter notice failed",
    # Appeals and re-review
    "appeal.opened": "Appeal opened",
    "appeal.decided": "Appeal decided",
    "rereview.sampled": "Re-review sampled",
    "rereview.assigned": "Re-review assigned",
    "rereview.claimed": "Re-review claimed",
    "rereview.released": "Re-review released",
    "rereview.recorded": "Re-review recorded",
    "rereview.resolved": "Re-review disagreement settled",
    # Escalations to the authorities
    "escalation.opened": "Escalation opened",
    "escalation.case_added": "Case added to escalation",
    "escalation.cases_gathered": "Evidence cases added to escalation",
    "escalation.details_changed": "Escalation details changed",
    "escalation.merged": "Escalations merged",
    "escalation.approval_requested": "Escalation approval requested",
    "escalation.approved": "Escalation approved",
    "escalation.returned": "Escalation returned for changes",
    "escalation.withdrawn": "Escalation withdrawn",
    "escalation.assembled": "Escalation packet assembled",
    "escalation.assembly_failed": "Escalation packet assembly failed",
    "escalation.assembly_retried": "Escalation packet assembly retried",
    "escalation.packet_downloaded": "Escalation packet downloaded",
    "escalation.submission_started": "Escalation submission started",
    "escalation.report_opened": "Authority report opened",
    "escalation.transcript_uploaded": "Conversation transcript uploaded to the authority",
    "escalation.transcript_details_sent": "Conversation transcript details sent to the authority",
    "escalation.submission_failed": "Escalation submission failed",
    "escalation.submission_retracted": "Escalation submission retracted",
    "escalation.submitted": "Escalation submitted",
    "escalation.acknowledged": "Escalation acknowledged",
    "escalation.legal_hold_set": "Legal hold set",
    "escalation.legal_hold_lifted": "Legal hold lifted",
    "escalation.evidence_deleted": "Evidence deleted",
    # Reviewers' wellbeing and preferences
    "wellness.paused": "Paused from sensitive queues",
    "wellness.resumed": "Back on sensitive queues",
    "preferences.updated": "Preferences updated",
    "queuecertification.created": "Queue certification granted",
    "queuecertification.changed": "Queue certification changed",
    "queuecertification.renewed": "Queue certification renewed",
    "queuecertification.deleted": "Queue certification removed",
    # Accounts and API tokens
    "user.created": "User created",
    "user.changed": "User changed",
    "user.deleted": "User deleted",
    "user.password_changed": "Password changed",
    "apitoken.created": "API token created",
    "apitoken.changed": "API token changed",
    "apitoken.revoked": "API token revoked",
    # Settings changed in the admin
    "queue.created": "Queue created",
    "queue.changed": "Queue changed",
    "queue.deleted": "Queue deleted",
    "priorityweights.created": "Priority weights created",
    "priorityweights.changed": "Priority weights changed",
    "priorityweights.deleted": "Priority weights deleted",
    "qualitysettings.created": "Quality settings created",
    "qualitysettings.changed": "Quality settings changed",
    "qualitysettings.deleted": "Quality settings deleted",
    "accountcasesettings.created": "Account case settings created",
    "accountcasesettings.changed": "Account case settings changed",
    "accountcasesettings.deleted": "Account case settings deleted",
    "hashbank.created": "Hash bank created",
    "hashbank.changed": "Hash bank changed",
    "hashbank.deleted": "Hash bank deleted",
    # Search, exports and the log itself
    "search.performed": "Search made",
    "audit.exported": "Audit log exported",
    "audit.verification_requested": "Audit chain verification requested",
    "transparency.exported": "Transparency report downloaded",
    "research.exported": "Research export downloaded",
    "dsa.exported": "Statements of reasons exported",
}

# Where a model's own verbose name does not read well on its own.
OBJECT_NAMES = {
    "accounts.user": "User",
    "accounts.apitoken": "API token",
    "accounts.reviewerpreferences": "Preferences",
    "reports.media": "Media",
    "reports.flag": "Automated flag",
    "moderation.rereview": "Re-review",
    "moderation.exchange": "Exchange",
    "moderation.auditverification": "Audit chain verification",
}


def _words(code: str) -> str:
    text = " ".join(part.replace("_", " ") for part in code.split(".") if part).strip()
    return text[:1].upper() + text[1:]


def event_name(verb: str) -> str:
    """The event in words. A code nobody named yet reads as its words ("a.b_c" is "A b c")."""
    return EVENT_NAMES.get(verb) or _words(verb)


def object_noun(object_type: str) -> str:
    """The kind of object in words: "moderation.case" is "Case"."""
    if object_type in OBJECT_NAMES:
        return OBJECT_NAMES[object_type]
    try:
        name = str(apps.get_model(object_type)._meta.verbose_name)
    except (LookupError, ValueError):
        return _words(object_type.rpartition(".")[2])
    return name[:1].upper() + name[1:]


def object_name(object_type: str, object_id) -> str:
    """The object in words: "Case 12", "Escalation 3", "Media 7"."""
    return f"{object_noun(object_type)} {object_id}".strip()


def vigil_object_types() -> list[str]:
    """The object types of Vigil's own models (no Django internals: sessions, permissions, the
    admin's log, content types)."""
    return sorted(m._meta.label_lower for m in apps.get_models() if m._meta.app_label in VIGIL_APPS)
