"""The CyberTipline report and fileDetails XML: valid against the schema, every field mapped, and
never a word about the person who reported the content."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from moderation.escalations import cybertip
from moderation.escalations.models import INCIDENT_TYPES
from reports.models import IpCapture, Report
from tests.moderation.cybertip_fixtures import LOGIN, POSTED, UPLOAD, escalation_factory

SHARED_XSD = Path(__file__).resolve().parents[3].parent / "shared" / "schemas" / "cyber_tipline.xsd"


@pytest.fixture
def make_escalation(db, make_user, submit_report, png_upload):
    return escalation_factory(make_user, submit_report, png_upload)


def parse(xml: bytes) -> etree._Element:
    return etree.fromstring(xml)


def texts(root, path) -> list[str]:
    return [e.text for e in root.findall(path)]


def assert_valid(xml: bytes) -> None:
    assert cybertip.validate(xml) == [], xml.decode()


@pytest.mark.skipif(not SHARED_XSD.exists(), reason="../shared is not next to the repository")
def test_the_vendored_schema_is_byte_identical_to_the_shared_one():
    assert cybertip.SCHEMA_PATH.read_bytes() == SHARED_XSD.read_bytes()


def test_the_schema_is_loaded_once():
    assert cybertip.schema() is cybertip.schema()


@pytest.mark.django_db
class TestReportXml:
    def test_a_realistic_escalation_is_valid_and_every_field_is_mapped(
        self, make_escalation, settings
    ):
        settings.VIGIL_PLATFORM_NAME = "Social Example"
        settings.VIGIL_REPORTER_FIRST_NAME = "Rosa"
        settings.VIGIL_REPORTER_LAST_NAME = "Safety"
        settings.VIGIL_REPORTER_EMAIL = "cybertip@social.example"
        second = {"platform_id": "later", "posted_at": datetime(2026, 11, 21, tzinfo=UTC)}
        escalation = make_escalation(
            [
                {"platform_id": "first", "posted_at": POSTED, "ip_captures": [LOGIN, UPLOAD]},
                second,
            ],
            incident_type=INCIDENT_TYPES[6],
            annotations=["sextortion", "minorToMinorInteraction"],
            urgent=True,
            urgent_reason="The child says they will be hurt tonight.",
        )
        xml = cybertip.report_xml(escalation)
        assert_valid(xml)
        root = parse(xml)
        assert texts(root, "incidentSummary/incidentType") == [INCIDENT_TYPES[6]]
        assert texts(root, "incidentSummary/platform") == ["Social Example"]
        assert texts(root, "incidentSummary/escalateToHighPriority") == [
            "The child says they will be hurt tonight."
        ]
        tags = root.find("incidentSummary/reportAnnotations")
        assert [(t.tag, t.text) for t in tags] == [
            ("sextortion", "true"),
            ("minorToMinorInteraction", "true"),
        ]
        assert texts(root, "incidentSummary/incidentDateTime") == ["2026-11-20T09:00:00Z"]
        assert "posted to Social Example" in root.findtext(
            "incidentSummary/incidentDateTimeDescription"
        )
        n = escalation.owner_id.split("-")[1]
        assert texts(root, "internetDetails/webPageIncident/url") == [
            f"https://social.example/p/{n}/0",
            f"https://social.example/p/{n}/1",
        ]
        assert "first, later" in root.findtext("internetDetails/webPageIncident/additionalInfo")
        person = root.find("reporter/reportingPerson")
        assert [(e.tag, e.text) for e in person] == [
            ("firstName", "Rosa"),
            ("lastName", "Safety"),
            ("email", "cybertip@social.example"),
        ]
        reported = root.find("personOrUserReported")
        assert reported.findtext("espIdentifier") == escalation.owner_id
        assert reported.findtext("espService") == "Social Example"
        assert reported.findtext("screenName") == f"handle_{n}"
        events = [
            (e.findtext("ipAddress"), e.findtext("eventName"), e.findtext("dateTime"))
            for e in reported.findall("ipCaptureEvent")
        ]
        assert events == [
            ("203.0.113.5", "Login", "2026-11-20T08:55:00Z"),
            ("2001:db8::1", "Upload", "2026-11-20T09:00:00Z"),
        ]
        assert root.findtext("additionalInfo") == "The account posted abuse material."

    def test_the_end_user_who_reported_it_appears_nowhere(self, make_escalation):
        escalation = make_escalation()
        xml = cybertip.report_xml(escalation).decode()
        for trace in ("the-reporter-account", "reporter@example.org", "198.51.100.77"):
            assert trace not in xml
        for f in escalation.files.all():
            details = cybertip.file_details_xml(f, report_id=0, file_id=f.name).decode()
            for trace in ("the-reporter-account", "reporter@example.org", "198.51.100.77"):
                assert trace not in details

    def test_not_urgent_means_no_escalation_to_high_priority_and_no_annotations(
        self, make_escalation
    ):
        root = parse(cybertip.report_xml(make_escalation()))
        assert root.find("incidentSummary/escalateToHighPriority") is None
        assert root.find("incidentSummary/reportAnnotations") is None

    def test_without_posting_times_the_first_report_dates_the_incident(self, make_escalation):
        escalation = make_escalation([{"platform_id": "p"}, {"platform_id": "q"}])
        first = Report.objects.filter(case__escalations=escalation).order_by("created_at")[0]
        root = parse(cybertip.report_xml(escalation))
        assert root.findtext("incidentSummary/incidentDateTime") == cybertip.xml_datetime(
            first.created_at
        )
        assert "posting time is unknown" in root.findtext(
            "incidentSummary/incidentDateTimeDescription"
        )

    def test_repeated_ip_events_on_several_items_are_sent_once(self, make_escalation):
        escalation = make_escalation(
            [
                {"platform_id": "a", "ip_captures": [LOGIN]},
                {"platform_id": "b", "ip_captures": [LOGIN]},
            ]
        )
        assert IpCapture.objects.count() == 2
        root = parse(cybertip.report_xml(escalation))
        assert len(root.findall("personOrUserReported/ipCaptureEvent")) == 1

    def test_unicode_and_xml_special_characters_survive(self, make_escalation):
        summary = 'Sent <script>&"quotes"\' — ünïcødé 日本語 🙂 and a stray \x07 bell'
        escalation = make_escalation(incident_summary=summary, urgent=True, urgent_reason="<&>")
        xml = cybertip.report_xml(escalation)
        assert_valid(xml)
        root = parse(xml)
        assert root.findtext("additionalInfo") == summary.replace("\x07", "")
        assert root.findtext("incidentSummary/escalateToHighPriority") == "<&>"

    def test_an_owner_less_escalation_has_no_reported_user_id(self, make_escalation):
        escalation = make_escalation()
        escalation.owner_id = ""
        xml = cybertip.report_xml(escalation)
        assert_valid(xml)
        assert parse(xml).find("personOrUserReported/espIdentifier") is None


@pytest.mark.django_db
class TestFileDetailsXml:
    def test_a_reporters_attachment_keeps_its_name_to_itself(self, make_escalation):
        f = make_escalation().files.get()
        assert f.media.original_filename and f.media.flag_id is None
        root = parse(cybertip.file_details_xml(f, report_id=1, file_id="a"))
        assert root.find("originalFileName") is None
        assert f.media.original_filename.encode() not in etree.tostring(root)

    def test_every_field_is_mapped(self, make_escalation):
        from reports.models import Flag

        escalation = make_escalation(classification="B1", intent="malicious")
        f = escalation.files.get()
        # The platform's own copy of the content (a flag's file) carries its original name.
        f.media.flag = Flag.objects.create(
            content_item=f.media.content_item,
            case=f.case,
            source="classifier",
            external_id="x-1",
            category="csam",
            score=0.9,
        )
        f.media.save(update_fields=["flag"])
        xml = cybertip.file_details_xml(f, report_id=123456, file_id="abc123")
        assert_valid(xml)
        root = parse(xml)
        media = f.media
        assert [e.tag for e in root] == [
            "reportId",
            "fileId",
            "fileName",
            "originalFileName",
            "uploadedToEspTimestamp",
            "locationOfFile",
            "fileViewedByEsp",
            "exifViewedByEsp",
            "publiclyAvailable",
            "potentialMeme",
            "industryClassification",
            "originalFileHash",
            "originalFileHash",
            "originalFileHash",
            "ipCaptureEvent",
        ]
        assert root.findtext("reportId") == "123456"
        assert root.findtext("fileId") == "abc123"
        assert root.findtext("fileName") == f"0001-{media.sha256}.png"
        assert root.findtext("originalFileName") == media.original_filename
        assert root.findtext("uploadedToEspTimestamp") == "2026-11-20T09:00:00Z"
        assert root.findtext("locationOfFile") == media.content_item.url
        assert root.findtext("fileViewedByEsp") == "true"
        assert root.findtext("exifViewedByEsp") == "false"
        assert root.findtext("publiclyAvailable") == "true"
        assert root.findtext("potentialMeme") == "false"
        assert root.findtext("industryClassification") == "B1"
        hashes = {e.get("hashType"): e.text for e in root.findall("originalFileHash")}
        assert hashes == {"MD5": f.md5, "SHA256": f.sha256, "PDQ": "f" * 64}
        assert root.findtext("ipCaptureEvent/ipAddress") == UPLOAD.ip
        assert root.findtext("ipCaptureEvent/eventName") == "Upload"

    def test_unknowns_are_left_out_and_upload_time_falls_back_to_receipt(self, make_escalation):
        escalation = make_escalation([{"platform_id": "x"}], classification="")
        f = escalation.files.get()
        f.viewed_by_esp = False
        xml = cybertip.file_details_xml(f, report_id=0, file_id=f.name)
        assert_valid(xml)
        root = parse(xml)
        assert root.findtext("fileId") == f.name
        assert root.findtext("reportId") == "0"
        assert root.findtext("fileViewedByEsp") == "false"
        assert root.findtext("uploadedToEspTimestamp") == cybertip.xml_datetime(f.media.created_at)
        for absent in (
            "publiclyAvailable",
            "industryClassification",
            "potentialMeme",
            "ipCaptureEvent",
        ):
            assert root.find(absent) is None

    def test_a_non_malicious_sharing_is_a_potential_meme(self, make_escalation):
        f = make_escalation(intent="non_malicious").files.get()
        root = parse(cybertip.file_details_xml(f, report_id=1, file_id="f"))
        assert root.findtext("potentialMeme") == "true"

    def test_every_file_of_a_several_file_escalation_is_valid(self, make_escalation):
        escalation = make_escalation(
            [{"platform_id": "a"}, {"platform_id": "b"}, {"platform_id": "c"}]
        )
        for f in escalation.files.all():
            assert_valid(cybertip.file_details_xml(f, report_id=0, file_id=f.name))

    def test_prefetched_contexts_give_the_same_documents_in_two_queries(
        self, make_escalation, django_assert_num_queries
    ):
        escalation = make_escalation(
            [
                {"platform_id": "a", "posted_at": POSTED, "ip_captures": [LOGIN, UPLOAD]},
                {"platform_id": "b", "ip_captures": [UPLOAD]},
                {"platform_id": "c"},
            ],
            intent="non_malicious",
        )
        files = list(escalation.files.select_related("media__content_item").order_by("name"))
        with django_assert_num_queries(2):
            contexts = cybertip.file_details_contexts(files)
        for f in files:
            alone = cybertip.file_details_xml(f, report_id=0, file_id=f.name)
            assert b"<ipCaptureEvent>" in alone or f.media.content_item.platform_id == "c"
            batched = cybertip.file_details_xml(
                f, report_id=0, file_id=f.name, context=contexts[f.pk]
            )
            assert batched == alone


class TestValidate:
    def test_errors_are_readable_and_carry_line_numbers(self):
        xml = b"""<?xml version="1.0" encoding="UTF-8"?>
<report>
  <incidentSummary>
    <incidentType>Something else</incidentType>
    <incidentDateTime>yesterday</incidentDateTime>
  </incidentSummary>
</report>
"""
        errors = cybertip.validate(xml)
        assert any(e.startswith("line 4:") and "incidentType" in e for e in errors), errors
        assert any(e.startswith("line 5:") and "incidentDateTime" in e for e in errors), errors
        assert any("reporter" in e for e in errors), errors

    def test_not_well_formed_xml_is_an_error_not_an_exception(self):
        errors = cybertip.validate(b"<report><incidentSummary></report>")
        assert len(errors) == 1 and errors[0].startswith("line 1: not well-formed")

    def test_an_external_entity_is_never_fetched(self, tmp_path):
        secret = tmp_path / "secret.txt"
        secret.write_text("TOPSECRET")
        xml = (
            f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">]>'
            "<report>&x;</report>"
        ).encode()
        errors = cybertip.validate(xml)
        assert errors == ["line 1: a DOCTYPE is not allowed"]
