"""What a reporter notice says, from the templates in templates/reports/email/.

Only what the reporter already knows or may know: the report's reference, the link they reported
(in its canonical form, so another reporter's tracking parameters never travel with it), the
platform's name and, for an outcome, whether action was taken. Never which action, the content's
owner, other reporters or the reviewer: the templates are given nothing else.
"""

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse

from reports.content import canonical_url
from reports.models import ReporterNotice


def notice_context(notice: ReporterNotice) -> dict:
    report = notice.report
    status_url = ""
    if settings.PUBLIC_URL:
        status_url = f"{settings.PUBLIC_URL}{reverse('report_status')}?reference={report.reference}"
    return {
        "reference": report.reference,
        "link": canonical_url(report.content_item.url) if report.content_item.url else "",
        "platform_name": settings.VIGIL_PLATFORM_NAME,
        "status_url": status_url,
        "self_report": report.is_self_report,
        "actioned": notice.outcome == ReporterNotice.Outcome.ACTIONED,
    }


def notice_message(notice: ReporterNotice) -> tuple[str, str]:
    """The notice's subject (one line) and plain-text body."""
    context = notice_context(notice)
    subject = render_to_string(f"reports/email/{notice.kind}_subject.txt", context)
    body = render_to_string(f"reports/email/{notice.kind}.txt", context)
    return " ".join(subject.split()), body.strip() + "\n"
