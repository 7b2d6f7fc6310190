"""Django loads an app's models from `<app>.models`: each domain keeps its own in
`moderation/<domain>/models.py`, and this module only gathers them for the app registry.
Code imports models from their domain's module, never from here (import-linter checks it)."""

from moderation.audit.models import AuditEvent, AuditVerification
from moderation.banks.models import BankEntry, BankVersion, Cluster, ClusterLock, HashBank, Match
from moderation.cases.models import AccountCaseSettings, Case, CaseSkip, PriorityWeights, Queue
from moderation.decisions.models import Appeal, Decision, QualitySettings, ReReview
from moderation.enforcement.models import DeliveryAttempt, EnforcementAction, WebhookDelivery
from moderation.escalations.models import Escalation, EscalationFile, SubmissionAttempt
from moderation.exchanges.models import (
    EntrySource,
    Exchange,
    ExchangeFeedback,
    ExchangeSync,
    FeedToken,
)
from moderation.outbox.models import OutboxJob
from moderation.supervision.models import QueueHour

__all__ = [
    "AccountCaseSettings",
    "Appeal",
    "AuditEvent",
    "AuditVerification",
    "BankEntry",
    "BankVersion",
    "Case",
    "CaseSkip",
    "Decision",
    "Cluster",
    "ClusterLock",
    "DeliveryAttempt",
    "EnforcementAction",
    "Escalation",
    "EntrySource",
    "EscalationFile",
    "Exchange",
    "ExchangeFeedback",
    "ExchangeSync",
    "FeedToken",
    "HashBank",
    "Match",
    "OutboxJob",
    "PriorityWeights",
    "Queue",
    "QueueHour",
    "QualitySettings",
    "ReReview",
    "SubmissionAttempt",
    "WebhookDelivery",
]
