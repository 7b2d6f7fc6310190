"""What a decision must record, by category and action."""

from reports.categories import CHILD_SAFETY, Category

# Actions that find no violation (or defer the finding) need no judgement of the sharer.
NON_FINDINGS = frozenset({"no_violation", "senior_review"})

# Categories whose findings must carry the industry classification (A1/A2/B1/B2): sexual
# imagery of children. Child nudity may be classified (when it is sexual, it is CSAM) but need not
# be: the scheme has no class for nudity that is neither a sex act nor lascivious.
CLASSIFIED_IMAGERY = frozenset({Category.CSAM, Category.SELF_GENERATED})

# A finding that classifies the material A1-B2 finds child sexual abuse material. US law
# (18 U.S.C. 2258A) requires a provider that knows of apparent CSAM to report it to NCMEC, and
# the material must come down: "Escalate to authority" does both (moderation/review/actions.py).
CSAM_FINDING_ACTION = "escalate"
CSAM_FINDING_ERROR = (
    "Material classified {classification} is child sexual abuse material: it must be removed and "
    "reported. Choose “Escalate to authority” (removes the content, suspends the account and opens "
    "the report to NCMEC); add a safety notice to it if the sharing looks non-malicious."
)
CSAM_FINDING_NOTE = (
    "A finding classified A1–B2 must be “Escalate to authority”; a safety notice can be added to "
    "it, never sent alone."
)
SAFETY_NOTICE_ERROR = (
    "A safety notice can be added only to a finding (not to “No violation”, a referral or a "
    "safety notice itself)."
)

# Policies a decision can cite; the console offers these, the API accepts them.
POLICIES = [
    ("child-safety/sexual-exploitation", "Child safety – sexual exploitation"),
    ("child-safety/nudity", "Child safety – nudity of minors"),
    ("child-safety/grooming", "Child safety – grooming and enticement"),
    ("child-safety/sextortion", "Child safety – sextortion"),
    ("violent-extremism", "Violent extremism"),
    ("harassment", "Harassment and bullying"),
    ("self-harm", "Self-harm and suicide"),
    ("spam", "Spam and scams"),
    ("community-standards", "Community standards – other"),
]

DEFAULT_POLICY = {
    Category.CSAM: "child-safety/sexual-exploitation",
    Category.SELF_GENERATED: "child-safety/sexual-exploitation",
    Category.CHILD_NUDITY: "child-safety/nudity",
    Category.GROOMING: "child-safety/grooming",
    Category.SEXTORTION: "child-safety/sextortion",
    Category.VIOLENT_EXTREMISM: "violent-extremism",
    Category.HARASSMENT: "harassment",
    Category.SELF_HARM: "self-harm",
    Category.SPAM: "spam",
    Category.OTHER: "community-standards",
}


# What a queue can require of every decision made in it, beyond what the category requires.
QUEUE_REQUIREMENTS = [
    ("notes", "A written reason (notes)"),
    ("intent", "The sharer's apparent intent, on findings"),
    ("classification", "The industry classification (A1–B2), on findings"),
]

MISSING = {
    "intent": "Record the sharer's apparent intent for child-safety content.",
    "classification": "Choose the industry classification (A1, A2, B1 or B2).",
    "notes": "This queue asks for a written reason: add notes saying why.",
}


def decision_requirements(*, category: str, action: str, queue=None) -> set[str]:
    """Fields beyond action and policy that this decision must carry: what the category needs
    (intent and classification on child-safety findings) and what the queue asks of every
    decision made in it (a sent-up case's decider writes why, say). Sending a case to senior
    review is a referral, not a decision, and needs none of them."""
    required = set()
    if action not in NON_FINDINGS and category in CHILD_SAFETY:
        required.add("intent")
        if category in CLASSIFIED_IMAGERY:
            required.add("classification")
    if queue is not None and action != "senior_review":
        for field in queue.required_fields:
            if field == "notes" or action not in NON_FINDINGS:
                required.add(field)
    return required


# How much each action asks of the platform, mildest first: an appeal's outcome is "stricter" or
# "milder" than the contested decision by this order (moderation/review/appeals.py).
ACTION_SEVERITY = {
    "no_violation": 0,
    "safety_notice": 1,
    "warn": 2,
    "age_restrict": 3,
    "remove": 4,
    "suspend": 5,
    "escalate": 6,
}


def action_severity(action: str) -> int:
    return ACTION_SEVERITY[action]


def is_csam_finding(*, action: str, classification: str) -> bool:
    return bool(classification) and action not in NON_FINDINGS


def finding_errors(*, action: str, classification: str, safety_notice: bool = False) -> dict:
    """What the law and the finding itself rule out, whatever the queue: a CSAM finding that does
    not remove and report, a classification on no finding, a safety notice on nothing."""
    errors = {}
    if classification and action == "no_violation":
        errors["classification"] = (
            "“No violation” classifies nothing: clear the classification, or record the finding."
        )
    elif (
        is_csam_finding(action=action, classification=classification)
        and action != CSAM_FINDING_ACTION
    ):
        errors["action"] = CSAM_FINDING_ERROR.format(classification=classification)
    if safety_notice and action in NON_FINDINGS | {"safety_notice"}:
        errors["safety_notice"] = SAFETY_NOTICE_ERROR
    return errors


def missing_fields(required: set[str], **given: str) -> dict[str, str]:
    """An error for each required field left empty."""
    return {field: MISSING[field] for field in sorted(required) if not given.get(field)}


def requirement_notes(case) -> list[str]:
    """What the decision form must carry on this case, in words, for the reviewer."""
    notes = []
    if case.category in CHILD_SAFETY:
        if case.category in CLASSIFIED_IMAGERY:
            notes.append("Findings here need the sharer's intent and the industry classification.")
        else:
            notes.append("Findings here need the sharer's apparent intent.")
        notes.append(CSAM_FINDING_NOTE)
    queue_needs = [f for f in ("intent", "classification") if f in case.queue.required_fields]
    if queue_needs:
        notes.append(f"This queue asks every finding for: {' and '.join(queue_needs)}.")
    if "notes" in case.queue.required_fields:
        notes.append("This queue asks for a written reason (notes) with every decision.")
    return notes
