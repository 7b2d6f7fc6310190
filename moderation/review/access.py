"""Who may see a case in the review console (moderation/cases/access.py holds the rule)."""

from moderation.cases.access import get_visible_case
from moderation.cases.models import Case
from moderation.review import selectors


def get_reviewable_case(request, case_id: int) -> Case:
    """The case with everything the review page shows; 404 if missing, 403 if not visible."""
    return get_visible_case(request, case_id, load=selectors.case_for_review)
