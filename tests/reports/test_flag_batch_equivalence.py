"""A batch of flags stores exactly what flag_submit stores called once per flag, in order
(reports/batch.py): the same content items, IP captures, cases and their roll-up, flags, media,
audit events in the same order, and hashing jobs.

Both paths run in one database on the same world built twice, under two name prefixes: the
sequential path on one, the batch on the other. Rows are compared with the prefix taken out, ids
turned into their order of creation and timestamps left aside."""

import json
from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.db.models import Q

from accounts.roles import Role
from moderation.audit.models import AuditEvent
from moderation.cases.models import Case, Queue
from moderation.cases.services import case_claim_next
from moderation.outbox.models import OutboxJob
from moderation.review.services import case_decide
from reports.batch import FlagIntake, FlagNotStored, FlagStored, flag_submit_batch
from reports.content import ContentFacts, IpCaptureIn, url_key
from reports.models import ContentItem, Flag, IpCapture, Media, Report
from reports.services import flag_submit, report_submit
from tests.intake import intake_fields

SEQUENTIAL, BATCH = "aa-", "bb-"
ACTOR = "api token test (platform)"
WHEN = datetime(2026, 11, 20, 14, 3, tzinfo=UTC)


def build_cases(ns: str, make_user) -> None:
    """A decided case, and a case a reviewer holds (built for both worlds before anything else
    is open, so each reviewer claims the case meant for them)."""
    reviewer = make_user(f"{ns}rita", Role.REVIEWER)
    report_submit(
        **intake_fields(
            category="harassment",
            platform_id=f"{ns}decided",
            reporter_kind=Report.ReporterKind.PUBLIC,
            source=Report.Source.FORM,
        )
    )
    decided = case_claim_next(user=reviewer)
    case_decide(case_id=decided.pk, user=reviewer, action="no_violation", policy="harassment")
    holder = make_user(f"{ns}hal", Role.REVIEWER)
    report_submit(
        **intake_fields(
            category="spam",
            platform_id=f"{ns}held",
            reporter_kind=Report.ReporterKind.PUBLIC,
            source=Report.Source.FORM,
        )
    )
    assert case_claim_next(user=holder).content_item.platform_id == f"{ns}held"


def build_world(ns: str, make_user) -> dict:
    """The rest of what the batch meets: a flag already stored on an open case, a queue for one
    source, the platform's account."""
    flag_submit(
        source=f"{ns}clf",
        external_id="old-1",
        category="spam",
        score=0.4,
        content=ContentFacts(platform_id=f"{ns}open", url=f"https://social.example/{ns}open"),
        actor_label=ACTOR,
    )
    Queue.objects.create(
        slug=f"{ns}special", name=f"{ns}special", order=7, sources=[f"flag:{ns}special"]
    )
    return {"user": make_user(f"{ns}platform", Role.PLATFORM, queues=[])}


def intakes(ns: str, png_upload) -> list[FlagIntake]:
    def flag(external_id, content, category="spam", score=0.5, source=f"{ns}clf", **kw):
        return FlagIntake(
            source=source,
            external_id=external_id,
            category=category,
            score=score,
            content=content,
            model_version="m1",
            **kw,
        )

    x = ContentFacts(platform_id=f"{ns}x", url=f"https://social.example/{ns}x", type="post")
    by_url = ContentFacts(url=f"https://Social.example/{ns}y/?utm_source=feed")
    y = ContentFacts(
        platform_id=f"{ns}y", url=f"https://social.example/{ns}y", language="fr", reach=10
    )
    capture = IpCaptureIn(ip="198.51.100.7", event="Login", captured_at=WHEN)
    z = ContentFacts(platform_id=f"{ns}z", owner_id=f"{ns}owner", reach=5, ip_captures=[capture])
    z_again = ContentFacts(
        platform_id=f"{ns}z",
        owner_handle="@someone",
        reach=5000,
        posted_at=WHEN,
        ip_captures=[capture, IpCaptureIn(ip="2001:db8::1", event="Upload", captured_at=WHEN)],
    )
    image = png_upload(colour=(10, 20, 30))
    other_image = png_upload(colour=(30, 20, 10))
    return [
        flag("1", x),  # opens a case
        flag("2", x, category="harassment", score=0.9),  # joins, more severe
        flag("old-1", ContentFacts(platform_id=f"{ns}open")),  # already stored
        flag("1", x, category="csam"),  # repeats the first of the batch
        flag("3", by_url),  # a new item, known by its link only
        flag("4", y),  # the same link with the platform's id: learns it, and the language
        flag("5", ContentFacts(platform_id=f"{ns}decided"), category="harassment"),  # counted
        flag("6", ContentFacts(platform_id=f"{ns}decided"), category="csam", involves_child=True),
        flag("7", ContentFacts(platform_id=f"{ns}decided"), category="grooming", score=0.2),
        flag("8", ContentFacts(platform_id=f"{ns}held"), category="sextortion"),  # released
        flag("9", z, images=[image]),
        flag("10", z_again, images=[image]),  # the same image again
        flag("11", z_again, images=[other_image], score=0.99),
        flag("12", ContentFacts(platform_id=f"{ns}open"), source=f"{ns}special"),  # new source
        flag("13", ContentFacts(platform_id=f"{ns}w", url=f"https://social.example/{ns}y")),
    ]


def snapshot(ns: str, audit_after: int, results) -> str:
    """The rows of one world, as text with the prefix taken out, ids as their order."""
    items = list(
        ContentItem.objects.filter(
            Q(platform_id__startswith=ns) | Q(url__contains=f"/{ns}")
        ).order_by("pk")
    )
    item_no = {item.pk: n for n, item in enumerate(items)}
    cases = list(Case.objects.filter(content_item__in=items).order_by("pk"))
    case_no = {case.pk: n for n, case in enumerate(cases)}
    flags = list(Flag.objects.filter(content_item__in=items).order_by("pk"))
    flag_no = {flag.pk: n for n, flag in enumerate(flags)}
    media = list(Media.objects.filter(content_item__in=items).order_by("pk"))
    media_no = {m.pk: n for n, m in enumerate(media)}
    reports = {r.pk: n for n, r in enumerate(Report.objects.filter(content_item__in=items))}
    objects = {"moderation.case": case_no, "reports.flag": flag_no, "reports.report": reports}
    events = AuditEvent.objects.filter(pk__gt=audit_after).order_by("pk")
    state = {
        "results": [
            {"flag": flag_no[r.flag_id], "case": case_no[r.case_id], "created": r.created}
            if isinstance(r, FlagStored)
            else r.error
            for r in results
        ],
        "items": [
            {
                "key": item.key if item.key.startswith("id:") else "url",
                "url_key_is_the_links": item.url_key == url_key(item.url),
                "key_is_the_links": item.key == f"url:{url_key(item.url)}",
                **{
                    f: str(getattr(item, f))
                    for f in (
                        "platform_id",
                        "url",
                        "type",
                        "owner_id",
                        "owner_handle",
                        "language",
                        "reach",
                        "posted_at",
                        "publicly_available",
                    )
                },
                "captures": sorted(
                    str(c)
                    for c in IpCapture.objects.filter(content_item=item).values_list(
                        "ip", "event", "captured_at"
                    )
                ),
            }
            for item in items
        ],
        "cases": [
            {
                "item": item_no[c.content_item_id],
                "queue": c.queue.slug,
                "assignee": c.assignee.get_username() if c.assignee else None,
                "leased": c.lease_expires_at is not None,
                "decided": c.decided_at is not None,
                **{
                    f: getattr(c, f)
                    for f in (
                        "status",
                        "category",
                        "involves_child",
                        "sources",
                        "priority",
                        "priority_breakdown",
                        "reports_count",
                        "reporters_count",
                        "flags_count",
                        "max_flag_score",
                        "reporter_reliability",
                    )
                },
            }
            for c in cases
        ],
        "flags": [
            {
                "item": item_no[f.content_item_id],
                "case": case_no[f.case_id],
                "by": f.submitted_by.get_username() if f.submitted_by else None,
                **{
                    k: getattr(f, k)
                    for k in (
                        "source",
                        "external_id",
                        "category",
                        "score",
                        "model_version",
                        "involves_child",
                    )
                },
            }
            for f in flags
        ],
        "media": [
            {
                "item": item_no[m.content_item_id],
                "flag": flag_no[m.flag_id],
                **{
                    k: getattr(m, k)
                    for k in ("file", "original_filename", "mime", "size", "width", "sha256")
                },
            }
            for m in media
        ],
        "audit": [
            {
                "verb": e.verb,
                "object": (e.object_type, objects[e.object_type][int(e.object_id)]),
                "case": case_no.get(e.case_id),
                "actor": e.actor_label,
                "before": e.before,
                "after": (
                    {**e.after, "media": [media_no[pk] for pk in e.after["media"]]}
                    if e.verb == "flag.received"
                    else e.after
                ),
            }
            for e in events
        ],
        "jobs": [
            (job.func, [media_no[arg] for arg in job.args])
            for job in OutboxJob.objects.filter(created_at__isnull=False).order_by("pk")
            if job.args and job.args[0] in media_no
        ],
    }
    return json.dumps(state, indent=1, default=str, sort_keys=True).replace(ns, "NS-")


@pytest.mark.django_db
def test_it_stores_what_flag_submit_stores_one_flag_at_a_time(
    make_user, png_upload, django_capture_on_commit_callbacks
):
    Queue.objects.create(slug="french", name="French", order=8, languages=["fr"])
    for ns in (SEQUENTIAL, BATCH):
        build_cases(ns, make_user)
    worlds = {ns: build_world(ns, make_user) for ns in (SEQUENTIAL, BATCH)}

    mark = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
    with django_capture_on_commit_callbacks() as sequential_callbacks:
        sequential = []
        for f in intakes(SEQUENTIAL, png_upload):
            flag, created = flag_submit(
                source=f.source,
                external_id=f.external_id,
                category=f.category,
                score=f.score,
                content=f.content,
                model_version=f.model_version,
                involves_child=f.involves_child,
                images=f.images,
                submitted_by=worlds[SEQUENTIAL]["user"],
                actor_label=ACTOR,
            )
            sequential.append(FlagStored(flag.pk, flag.case_id, created))
    expected = snapshot(SEQUENTIAL, mark, sequential)

    mark = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
    with django_capture_on_commit_callbacks() as batch_callbacks:
        batch = flag_submit_batch(
            flags=intakes(BATCH, png_upload),
            submitted_by=worlds[BATCH]["user"],
            actor_label=ACTOR,
        )
    assert not any(isinstance(r, FlagNotStored) for r in batch)
    assert snapshot(BATCH, mark, batch) == expected

    # Sanity: the world exercised what it was built for.
    state = json.loads(expected)
    verbs = [e["verb"] for e in state["audit"]]
    assert {"case.opened", "case.reopened", "case.released", "case.rerouted"} <= set(verbs)
    assert [r["created"] for r in state["results"] if isinstance(r, dict)].count(False) == 2
    assert len(state["media"]) == 3

    # The same jobs: every media hashed once the callbacks run (in-process), or handed to RQ.
    for callback in batch_callbacks:
        callback()
    batch_media = Media.objects.filter(content_item__platform_id__startswith=BATCH)
    if settings.JOBS_EAGER:
        assert not batch_media.filter(hashed_at__isnull=True).exists()
    else:
        jobs = OutboxJob.objects.filter(args__0__in=list(batch_media.values_list("pk", flat=True)))
        assert jobs.count() == 3 and not jobs.filter(enqueued_at__isnull=True).exists()
    assert len(sequential_callbacks) > len(batch_callbacks)
