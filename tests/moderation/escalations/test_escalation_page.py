"""The escalation page reads as a person needs it: the step that asks for an action holds its
controls, only those who can act are told to, the history is in words, an empty custody card says
what custody is, and no setting's name reaches staff."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from moderation.audit.models import AuditEvent
from moderation.escalations import history
from moderation.escalations.models import Escalation
from moderation.escalations.services import (
    escalation_approve,
    escalation_return,
    escalation_withdraw,
)
from tests.moderation.escalation_fixtures import overturn_on_appeal, prepared

PACKET = "ab" * 32


def page(client, escalation) -> str:
    response = client.get(reverse("escalation_detail", args=[escalation.pk]))
    assert response.status_code == 200
    return response.content.decode()


def section(html: str, testid: str) -> str:
    """The <section data-testid=...> element's HTML ("" if absent). Sections do not nest here."""
    match = re.search(rf'<section[^>]*data-testid="{testid}"', html)
    if match is None:
        return ""
    return html[match.start() : html.index("</section>", match.start())]


def visible_text(html: str) -> str:
    """Text a person reads: no tags, so no attribute (a title keeps the raw code on hover)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def boss(make_user):
    return make_user("boss", Role.SUPERVISOR)


@pytest.fixture
def states(escalate, boss):
    """`states(name)`: (escalation, the reviewer who escalated it) in a named state."""
    now = timezone.now()
    packet = {"approved_by": boss, "packet_sha256": PACKET, "packet_size": 10}
    submitted = {
        **packet,
        "status": "submitted",
        "report_id": 4242,
        "submitted_at": now,
        "submitted_via": "manual",
        "preserve_until": now + timedelta(days=365),
    }
    changes = {
        "draft": None,
        "awaiting_approval": {},
        "assembling": {"status": "assembling", "approved_by": boss},
        "ready": {"status": "ready", **packet},
        "sending": {"status": "ready", "submission_started_at": now, **packet},
        "failed_assembly": {
            "status": "failed",
            "failure_reason": "The report does not validate",
            "failure_details": ["report.xml: line 3: bad"],
            "approved_by": boss,
        },
        "failed_submission": {"status": "failed", "failure_reason": "HTTP 500", **packet},
        "submitted": submitted,
        "acknowledged": {**submitted, "status": "acknowledged", "acknowledged_at": now},
        "withdrawn": {"status": "withdrawn", "review_note": "Overturned on appeal."},
    }
    counter = iter(range(1000))

    def make(name):
        n = next(counter)
        escalation, reviewer = escalate(owner=f"{name}-{n}")
        if changes[name] is not None:
            prepared(escalation, reviewer)
            fields = dict(changes[name])
            if "report_id" in fields:
                fields["report_id"] += n  # one escalation per report id
            Escalation.objects.filter(pk=escalation.pk).update(**fields)
        escalation.refresh_from_db()
        return escalation, reviewer

    return make


@pytest.fixture
def api_configured(settings):
    settings.CYBERTIP_API_URL = "https://cybertip.invalid/api"
    settings.CYBERTIP_USERNAME = "esp"
    settings.CYBERTIP_PASSWORD = "secret"


@pytest.mark.django_db
class TestControlsInTheirStep:
    def test_download_then_mark_submitted_are_the_steps_that_name_them(self, client, states, boss):
        escalation, _ = states("ready")
        client.force_login(boss)
        html = page(client, escalation)
        step = section(html, "next-step")
        steps = step[step.index('data-testid="manual-steps"') :]
        download = steps.index('data-testid="download-packet"')
        mark = steps.index('data-testid="mark-submitted"')
        # Each control sits in the step that asks for it, in the order the text gives.
        assert steps.index("Download the packet") < download < steps.index("Submit it to the")
        assert steps.index("Record the report id") < mark
        assert download < mark
        assert 'name="report_id"' in steps
        # Not a second time elsewhere on the page.
        assert html.count('data-testid="download-packet"') == 1
        assert html.count('data-testid="mark-submitted"') == 1
        assert 'data-testid="download-packet"' not in section(html, "custody")
        assert 'data-testid="submission-by-download"' in step

    def test_with_the_api_the_submit_button_comes_first_and_by_hand_after(
        self, client, states, boss, api_configured
    ):
        escalation, _ = states("ready")
        client.force_login(boss)
        step = section(page(client, escalation), "next-step")
        assert step.index('data-testid="submit-cybertip"') < step.index("Or submit it by hand")
        assert step.index("Or submit it by hand") < step.index('data-testid="download-packet"')
        assert 'data-testid="submission-by-download"' not in step

    def test_approve_and_send_back_are_in_the_step_that_asks_for_them(self, client, states, boss):
        escalation, _ = states("awaiting_approval")
        client.force_login(boss)
        step = section(page(client, escalation), "next-step")
        assert 'data-testid="step-instructions"' in step
        assert 'data-testid="approve"' in step and 'name="note"' in step

    def test_a_failed_assembly_offers_its_remedies_in_the_step(self, client, states, boss):
        escalation, _ = states("failed_assembly")
        client.force_login(boss)
        html = page(client, escalation)
        step = section(html, "next-step")
        assert 'data-testid="retry-assembly"' in step and 'data-testid="restart"' in step
        # The packet card keeps the reason and each error.
        assert "report.xml: line 3: bad" in section(html, "packet-failed")

    def test_acknowledging_is_the_step_after_submission(self, client, states, boss):
        escalation, _ = states("submitted")
        client.force_login(boss)
        html = page(client, escalation)
        step = section(html, "next-step")
        assert 'data-testid="mark-acknowledged"' in step and "4242" in step
        # Downloading a submitted packet stays possible, with the chain of custody.
        assert 'data-testid="download-packet"' in section(html, "custody")


# Words that tell someone to do what only some roles may do.
ACTING_WORDS = [
    "Approve and assemble",
    "send it back",
    "Download the packet",
    "Mark submitted",
    "Mark acknowledged",
    "Submit to the CyberTipline",
    "Assemble again",
    "Fix the cause",
    "Withdraw this escalation",
]


@pytest.mark.django_db
class TestInstructionsOnlyForThoseWhoCanAct:
    @pytest.mark.parametrize(
        ("state", "says"),
        [
            ("draft", None),  # they write it: their instructions are theirs
            ("awaiting_approval", "Waiting for approval by a senior reviewer or supervisor"),
            ("assembling", "Then a supervisor submits it"),
            ("ready", "A supervisor submits it to the CyberTipline"),
            ("failed_assembly", "A supervisor fixes the cause"),
            ("failed_submission", "A supervisor submits it again"),
            ("submitted", "A supervisor records the CyberTipline's confirmation"),
            ("acknowledged", "Nothing more is needed here"),
            ("withdrawn", "it will not be reported"),
        ],
    )
    def test_the_escalating_reviewer_reads_where_it_stands_not_what_to_do(
        self, client, states, api_configured, state, says
    ):
        escalation, reviewer = states(state)
        client.force_login(reviewer)
        html = page(client, escalation)
        text = visible_text(html)
        step = section(html, "next-step")
        if says is None:
            assert 'data-testid="step-instructions"' in step  # writing the report is theirs
            return
        assert says in visible_text(step)
        assert 'data-testid="step-instructions"' not in step
        for words in ACTING_WORDS:
            assert words not in text, words
        assert "<form" not in step

    def test_a_senior_reviewer_who_escalated_is_told_someone_else_approves(
        self, client, escalate, make_user
    ):
        senior = make_user("sen", Role.SENIOR_REVIEWER)
        escalation, _ = escalate(reviewer=senior)
        prepared(escalation, senior)
        client.force_login(senior)
        step = section(page(client, escalation), "next-step")
        assert "someone else must approve it" in step
        assert 'data-testid="approve"' not in step and "Approve" not in visible_text(step)

    @pytest.mark.parametrize("state", ["ready", "failed_submission", "submitted"])
    def test_a_senior_reviewer_is_not_told_to_submit(self, client, states, make_user, state):
        escalation, _ = states(state)
        client.force_login(make_user("sen", Role.SENIOR_REVIEWER))
        html = page(client, escalation)
        assert 'data-testid="step-state"' in section(html, "next-step")
        for words in ["Download the packet", "Mark submitted", "Mark acknowledged"]:
            assert words not in visible_text(html)

    def test_an_overturned_decision_tells_only_supervisors_to_withdraw(self, client, states, boss):
        from moderation.decisions.models import Decision

        escalation, reviewer = states("awaiting_approval")
        decision = Decision.objects.get(case__escalations=escalation)
        overturn_on_appeal(decision, by=boss)
        client.force_login(boss)
        assert "Withdraw this escalation" in page(client, escalation)
        client.force_login(reviewer)
        html = page(client, escalation)
        assert 'data-testid="overturned"' in html
        assert "Withdraw this escalation" not in html
        assert "A supervisor decides whether it is withdrawn" in html


@pytest.mark.django_db
class TestHistory:
    def test_the_history_is_in_words_with_the_code_on_hover(
        self, client, escalate, make_user, boss
    ):
        senior = make_user("sen", Role.SENIOR_REVIEWER)
        escalation, reviewer = escalate()
        prepared(escalation, reviewer)
        escalation_return(escalation_id=escalation.pk, user=senior, note="Add the caption.")
        prepared(escalation, reviewer, incident_summary="Shared with the caption.")
        escalation_approve(escalation_id=escalation.pk, user=senior)
        client.force_login(boss)
        html = page(client, escalation)
        start = html.index('data-testid="history"')
        history_html = html[start : html.index("</ol>", start)]
        text = visible_text(history_html)
        name = reviewer.get_username()
        for label in [
            f"Opened by {name}",
            f"Report edited by {name} (what happened, concerns)",
            f"Sent for approval by {name}",
            "Sent back to draft by sen: Add the caption.",
            f"Report edited by {name} (what happened)",
            "Approved by sen",
        ]:
            assert label in text, label
        assert 'title="escalation.approved"' in history_html
        assert 'title="escalation.returned"' in history_html
        # No code and no state's name as people read it.
        assert "escalation." not in text
        assert "awaiting_approval" not in text

    def test_every_escalation_event_the_code_writes_has_words(self):
        from pathlib import Path

        import moderation.escalations as package

        written = set()
        for source in Path(package.__file__).parent.glob("*.py"):
            written.update(re.findall(r'"(escalation\.[a-z_]+)"', source.read_text()))
        assert written, "no escalation verbs found"
        assert written <= set(history.LABELS), sorted(written - set(history.LABELS))

    def test_machines_act_without_a_by(self):
        from moderation.audit.services import SYSTEM
        from moderation.escalations.packet import ACTOR
        from moderation.escalations.submission import API_LABEL

        assert {SYSTEM, ACTOR, API_LABEL} <= history.MACHINES
        event = AuditEvent(verb="escalation.assembled", actor_label=ACTOR, after={})
        assert history.describe(event) == "Packet assembled"

    @pytest.mark.parametrize(
        ("verb", "actor", "before", "after", "words"),
        [
            ("escalation.case_added", "bank csam", None, {"case": 7}, "Case 7 added by bank csam"),
            (
                "escalation.submitted",
                "CyberTipline API",
                {"status": "ready"},
                {"report_id": 9, "via": "api"},
                "Submitted to the CyberTipline as report 9",
            ),
            (
                "escalation.submitted",
                "boss",
                None,
                {"report_id": 9, "via": "manual"},
                "Marked submitted as report 9 by boss",
            ),
            (
                "escalation.submission_retracted",
                "boss",
                {"report_id": 9},
                {"status": "ready"},
                "Unfinished report 9 retracted at the CyberTipline by boss",
            ),
            (
                "escalation.legal_hold_set",
                "boss",
                None,
                {"legal_hold_until": "2030-01-31T23:59:59+00:00"},
                "Legal hold set by boss until 2030-01-31",
            ),
            # A code not named yet reads as words, with the state it moved to in words.
            (
                "escalation.frozen",
                "boss",
                None,
                {"status": "awaiting_approval"},
                "Frozen by boss (now awaiting approval)",
            ),
            # An older event missing a detail still says what happened.
            ("escalation.merged", "boss", None, None, "Merged into escalation None by boss"),
        ],
    )
    def test_each_kind_of_event_reads_as_a_sentence(self, verb, actor, before, after, words):
        event = AuditEvent(verb=verb, actor_label=actor, before=before, after=after)
        assert history.describe(event) == words


@pytest.mark.django_db
class TestEmptyCustody:
    @pytest.mark.parametrize(
        ("state", "says"),
        [
            ("draft", "starts when the packet is assembled, after the report is approved"),
            ("awaiting_approval", "starts when the packet is assembled"),
            ("assembling", "which is under way"),
            ("failed_assembly", "its assembly failed, so it starts once it succeeds"),
            ("withdrawn", "Withdrawn before a packet was assembled"),
        ],
    )
    def test_without_a_packet_it_says_what_custody_is_and_when_it_starts(
        self, client, states, boss, state, says
    ):
        escalation, _ = states(state)
        client.force_login(boss)
        custody = section(page(client, escalation), "custody")
        assert 'data-testid="custody-empty"' in custody
        assert says in visible_text(custody)
        if state != "withdrawn":
            assert "SHA-256 fingerprint" in custody and "every download" in custody

    def test_with_a_packet_it_shows_the_record_instead(self, client, states, boss):
        escalation, _ = states("ready")
        client.force_login(boss)
        custody = section(page(client, escalation), "custody")
        assert 'data-testid="custody-empty"' not in custody and PACKET in custody


ALL_STATES = [
    "draft",
    "awaiting_approval",
    "assembling",
    "ready",
    "sending",
    "failed_assembly",
    "failed_submission",
    "submitted",
    "acknowledged",
    "withdrawn",
]
SETTING_NAMES = re.compile(r"VIGIL_|CYBERTIP_[A-Z]")


@pytest.mark.django_db
@pytest.mark.parametrize("configured", [False, True])
def test_no_setting_name_reaches_staff_in_any_state(
    client, states, make_user, settings, configured
):
    if configured:
        settings.CYBERTIP_API_URL = "https://cybertip.invalid/api"
        settings.CYBERTIP_USERNAME = "esp"
        settings.CYBERTIP_PASSWORD = "secret"
    made = {name: states(name) for name in ALL_STATES}
    viewers = {
        "senior": make_user("sen", Role.SENIOR_REVIEWER),
        "supervisor": make_user("sup", Role.SUPERVISOR),
        "admin": make_user("adm", Role.ADMIN),
    }
    for name, (escalation, reviewer) in made.items():
        for who, user in [*viewers.items(), ("reviewer", reviewer)]:
            client.force_login(user)
            html = page(client, escalation)
            assert not SETTING_NAMES.search(html), (name, who, SETTING_NAMES.search(html))
    client.force_login(viewers["supervisor"])
    listing = client.get(reverse("escalations") + "?status=all").content.decode()
    assert not SETTING_NAMES.search(listing)


@pytest.mark.django_db
def test_submitting_without_the_api_says_so_in_plain_words(client, states, boss):
    escalation, _ = states("ready")
    client.force_login(boss)
    response = client.post(reverse("escalation_submit", args=[escalation.pk]), follow=True)
    html = response.content.decode()
    assert "not configured on this server; an administrator can enable it" in html
    assert not SETTING_NAMES.search(html)


@pytest.mark.django_db
def test_a_withdrawn_escalation_says_why(client, escalate, boss):
    escalation, _ = escalate()
    escalation_withdraw(escalation_id=escalation.pk, user=boss, note="Overturned on appeal.")
    client.force_login(boss)
    step = section(page(client, escalation), "next-step")
    assert "it will not be reported" in step and "Overturned on appeal." in step
