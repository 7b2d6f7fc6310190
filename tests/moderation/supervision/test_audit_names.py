"""The audit log's codes in words: every event the code writes has a name, objects read as
"Case 12", and the object filter offers only Vigil's own types."""

import ast
import itertools
from pathlib import Path

import pytest
from django.contrib import admin

from moderation.audit.admin import AuditedAdmin
from moderation.audit.names import (
    EVENT_NAMES,
    VIGIL_APPS,
    event_name,
    object_name,
    object_noun,
    vigil_object_types,
)
from moderation.audit.services import audit_record
from moderation.exchanges.models import ExchangeFeedback
from reports.models import ReporterNotice

ROOT = Path(__file__).resolve().parents[3]


def _admin_verbs() -> list[str]:
    # AuditedAdmin writes "<model>.created", ".changed" and ".deleted" for each model it serves.
    return [
        f"{model._meta.model_name}.{what}"
        for model, model_admin in admin.site._registry.items()
        if isinstance(model_admin, AuditedAdmin)
        for what in ("created", "changed", "deleted")
    ]


# Verbs put together from an expression, by (file, expression): what each can be. A new one
# fails the test below until it is listed here with what it writes.
COMPUTED = {
    ("accounts/admin.py", "f'queuecertification.{what}'"): lambda: [
        f"queuecertification.{what}" for what in ("created", "changed", "deleted")
    ],
    (
        "moderation/audit/admin.py",
        "f\"{obj._meta.model_name}.{('changed' if change else 'created')}\"",
    ): _admin_verbs,
    ("moderation/audit/admin.py", "f'{obj._meta.model_name}.deleted'"): _admin_verbs,
    # Each attempt at sending feedback to an exchange: sent, given up, or to be tried again.
    ("moderation/exchanges/feedback.py", "f'exchange.feedback_{feedback.status}'"): lambda: [
        f"exchange.feedback_{s}" for s in ExchangeFeedback.Status.values
    ],
    # A notice is recorded once it is sent or has failed for good, never while pending.
    ("moderation/notices/services.py", "f'notice.{notice.status}'"): lambda: [
        f"notice.{s}" for s in ReporterNotice.Status.values if s != ReporterNotice.Status.PENDING
    ],
    # The writer itself passes on its caller's verb; the browser's filter reads one.
    ("moderation/audit/services.py", "verb"): list,
    ("moderation/supervision/audit_browser.py", "data['verb']"): list,
}


def _values(node) -> tuple[list[str], list[str]]:
    """The strings an expression can be, and the parts that are not known from the source."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value], []
    if isinstance(node, ast.IfExp):
        (a, unknown_a), (b, unknown_b) = _values(node.body), _values(node.orelse)
        return a + b, unknown_a + unknown_b
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                options, unknown = _values(value.value)
                if unknown:
                    return [], [ast.unparse(node)]
                parts.append(options)
            else:
                parts.append([value.value])
        return ["".join(p) for p in itertools.product(*parts)], []
    return [], [ast.unparse(node)]


def written_verbs() -> set[str]:
    """Every verb Vigil's code names: `verb=` arguments and `"verb":` keys of the records
    passed to audit_record_many, across the apps (tests and migrations aside)."""
    verbs, unknown = set(), []
    for app in VIGIL_APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            relative = path.relative_to(ROOT).as_posix()
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                found = []
                if isinstance(node, ast.keyword) and node.arg == "verb":
                    found.append(node.value)
                elif isinstance(node, ast.Dict):
                    found += [
                        v
                        for k, v in zip(node.keys, node.values, strict=True)
                        if isinstance(k, ast.Constant) and k.value == "verb"
                    ]
                for value in found:
                    known, computed = _values(value)
                    verbs.update(known)
                    for expression in computed:
                        if (relative, expression) in COMPUTED:
                            verbs.update(COMPUTED[(relative, expression)]())
                        else:
                            unknown.append((relative, expression))
    assert not unknown, f"list in COMPUTED what these verbs can be: {unknown}"
    return verbs


def test_every_event_the_code_writes_has_a_name():
    verbs = written_verbs()
    assert {"case.decided", "media.viewed", "notice.sent", "user.changed"} <= verbs
    assert sorted(verbs - EVENT_NAMES.keys()) == []


def test_every_name_reads_as_words_of_its_own():
    for verb, name in EVENT_NAMES.items():
        assert name[:1].isupper() and "." not in name and "_" not in name, verb
    assert len(set(EVENT_NAMES.values())) == len(EVENT_NAMES), "two events share a name"


def test_it_names_events_and_objects():
    assert event_name("case.decided") == "Case decided"
    # A code nobody named yet still reads as words.
    assert event_name("widget.spun_round") == "Widget spun round"
    assert object_name("moderation.case", 12) == "Case 12"
    assert object_name("moderation.escalation", "3") == "Escalation 3"
    assert object_name("reports.media", 7) == "Media 7"
    assert object_noun("moderation.enforcementaction") == "Enforcement action"
    assert object_noun("no.such_thing") == "Such thing"


def test_vigil_object_types_leave_out_djangos_own():
    types = vigil_object_types()
    assert {"moderation.case", "moderation.escalation", "reports.media", "accounts.user"} <= set(
        types
    )
    assert all(t.split(".")[0] in VIGIL_APPS for t in types)
    for internal in ("contenttypes.contenttype", "sessions.session", "auth.permission"):
        assert internal not in types
    assert "admin.logentry" not in types


@pytest.mark.django_db
class TestAuditLogPage:
    def test_it_shows_events_and_objects_in_words_with_their_codes_on_hover(
        self, client, supervisor, submit_report
    ):
        case = submit_report().case
        client.force_login(supervisor)
        body = client.get("/audit/").content.decode()
        assert '<span title="case.opened" data-code="case.opened">Case opened</span>' in body
        assert (
            f'title="moderation.case {case.pk}" data-code="moderation.case">Case {case.pk}</a>'
            in body
        )
        # The event filter offers names too, its values the codes.
        assert '<option value="case.opened">Case opened</option>' in body

    def test_the_object_filter_offers_only_vigils_types_in_the_log(
        self, client, supervisor, submit_report
    ):
        submit_report()
        audit_record(verb="test.event", obj=supervisor, actor=supervisor)
        client.force_login(supervisor)
        r = client.get("/audit/")
        offered = dict(r.context["object_types"])
        assert offered == {
            "moderation.case": "Case",
            "reports.report": "Report",
            "accounts.user": "User",
        }
        body = r.content.decode()
        select = body.split('<select name="object_type"')[1].split("</select>")[0]
        for internal in (
            "contenttypes",
            "sessions",
            "auth.permission",
            "admin.logentry",
            "auth.group",
        ):
            assert internal not in select
        # The filter takes any of Vigil's types, so a link to one not yet logged still works...
        r = client.get("/audit/", {"object_type": "moderation.appeal", "object_id": "1"})
        assert r.status_code == 200 and r.context["page"].events == []
        assert '<option value="moderation.appeal" selected>Appeal</option>' in r.content.decode()
        # ...and none of Django's.
        for internal in ("sessions.session", "auth.permission", "contenttypes.contenttype"):
            r = client.get("/audit/", {"object_type": internal})
            assert r.status_code == 400 and b"Select a valid choice" in r.content
