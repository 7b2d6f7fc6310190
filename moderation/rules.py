"""What a decision must record, by category and action."""

from reports.categories import CHILD_SAFETY, Category

# Actions that find no violation (or defer the finding) need no judgement of the sharer.
NON_FINDINGS = frozenset({"no_violation", "senior_review"})

# Categories whose material the industry classification (A1/A2/B1/B2) describes.
CLASSIFIED_IMAGERY = frozenset({Category.CSAM, Category.SELF_GENERATED, Category.CHILD_NUDITY})

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


def decision_requirements(*, category: str, action: str) -> set[str]:
    """Fields beyond action and policy that this decision must carry."""
    if action in NON_FINDINGS or category not in CHILD_SAFETY:
        return set()
    required = {"intent"}
    if category in CLASSIFIED_IMAGERY:
        required.add("classification")
    return required
