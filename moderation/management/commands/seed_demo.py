"""Demo data: queues, a team, and a few hundred cases with generated, harmless images and videos.

Besides the images, six video posts (`video-demo-N`, drawn and encoded by ./_demo_videos.py) show
what Vigil does with videos, in the queues where such reports land: one clip posted, then
re-uploaded (the same file) and re-encoded (smaller, more compressed) by other accounts, so the
three share one cluster; a clip listed in the "Demo known videos" bank (its vPDQ, imported as a
hash list is), so its case shows a known-material match and the segments that matched; a WebM and
one more clip. Their media are hashed as every demo file is, by the hashing job (in-process here
in the embedded mode, by a worker with Redis), which also makes each video's strip of stills.

Idempotent: everything is keyed (usernames, queue slugs, bank slugs, demo platform ids), so
running it again creates nothing twice. Demo media are abstract shapes drawn here — never real
material.
"""

import csv
import io
import random
import secrets
from datetime import timedelta

from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageDraw

from accounts.models import QueueCertification, User
from accounts.models import User as UserModel
from accounts.roles import Role
from moderation.banks.models import HashBank
from moderation.banks.services import bank_import
from moderation.cases.assignment import case_reassign
from moderation.cases.models import Case, Queue
from moderation.cases.rollup import case_refresh_priority
from moderation.cases.services import case_claim_next
from moderation.decisions.models import Appeal, Decision, ReReview
from moderation.decisions.rules import DEFAULT_POLICY, decision_requirements
from moderation.escalations.models import Escalation
from moderation.escalations.services import (
    escalation_approve,
    escalation_request_approval,
    escalation_update_details,
)
from moderation.management.commands._demo_conversations import demo_conversations
from moderation.management.commands._demo_videos import demo_frames, encode, reencode
from moderation.review.appeals import appeal_open
from moderation.review.rereview import rereview_claim_next, rereview_open, rereview_record
from moderation.review.services import case_decide
from reports.categories import Category
from reports.content import ContentFacts, IpCaptureIn
from reports.hashing import perceptual_hashes
from reports.media import inspect_image, inspect_media
from reports.models import ContentItem, Report
from reports.services import flag_submit, report_submit
from reports.video import vpdq_hash
from reports.vpdq import to_signal

DEMO_QUEUES = [
    {
        "slug": "harassment-self-harm",
        "name": "Harassment and self-harm",
        "description": "Bullying, threats, and content about self-harm or suicide.",
        "order": 50,
        "categories": [Category.HARASSMENT, Category.SELF_HARM],
    },
    {
        "slug": "violent-extremism",
        "name": "Violent extremism",
        "description": "Terrorist and violent extremist content.",
        "order": 60,
        "categories": [Category.VIOLENT_EXTREMISM],
    },
]

TEAM = [(f"reviewer{i}", Role.REVIEWER) for i in range(1, 9)] + [
    ("senior1", Role.SENIOR_REVIEWER),
    ("supervisor1", Role.SUPERVISOR),
    ("admin1", Role.ADMIN),
]

# Rough shape of a real intake: child-safety heavy, with a long tail.
CATEGORY_WEIGHTS = {
    Category.CSAM: 14,
    Category.CHILD_NUDITY: 6,
    Category.GROOMING: 8,
    Category.SEXTORTION: 8,
    Category.SELF_GENERATED: 4,
    Category.VIOLENT_EXTREMISM: 8,
    Category.HARASSMENT: 20,
    Category.SELF_HARM: 8,
    Category.SPAM: 16,
    Category.OTHER: 8,
}

DESCRIPTIONS = [
    "",
    "Saw this in a group chat, please look at it.",
    "This account keeps posting things like this.",
    "I think the person in this is under 18.",
    "Reported before, still up.",
    "Someone sent me this and asked me to share it.",
]

CERTIFICATION_DAYS = 365
# Picture families whose hashes the demo bank holds.
DEMO_BANK_FAMILIES = (3, 11, 27)


# The demo's video posts: (platform id, clip, file name, category, owner, flagged by a classifier
# with this score, else reported by a user). Clips: "clip" posted, its re-upload ("clip", the same
# file) and re-encode ("copy"); "known", listed in the demo bank of known videos; "webm"; "other".
DEMO_VIDEOS = [
    ("video-demo-1", "clip", "VID_20260110_1412.mp4", Category.HARASSMENT, 20101, None),
    ("video-demo-2", "clip", "VID_20260110_1412.mp4", Category.HARASSMENT, 20102, 0.91),
    ("video-demo-3", "copy", "share_8815.mp4", Category.OTHER, 20103, None),
    ("video-demo-4", "known", "clip_0042.mp4", Category.CSAM, 20104, None),
    ("video-demo-5", "webm", "rally.webm", Category.VIOLENT_EXTREMISM, 20105, 0.88),
    ("video-demo-6", "other", "promo.mp4", Category.SPAM, 20106, None),
]
DEMO_VIDEO_BANK = "demo-known-videos"
DEMO_CLASSIFIER = "demo-classifier"


# Content languages of the demo items (BCP 47), for routing rules by language.
DEMO_LANGUAGES = ["en", "en", "de", "es", "pt-BR", "fr", "", "en"]


def demo_image(rng: random.Random, family: int, variant: int) -> bytes:
    """An abstract picture. Images of one family differ slightly, like re-encoded copies."""
    family_rng = random.Random(family)
    size = (320, 240)
    background = tuple(family_rng.randrange(40, 220) for _ in range(3))
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x0, y0 = family_rng.randrange(0, 260), family_rng.randrange(0, 180)
        x1, y1 = x0 + family_rng.randrange(20, 120), y0 + family_rng.randrange(20, 100)
        colour = tuple(family_rng.randrange(0, 256) for _ in range(3))
        if family_rng.random() < 0.5:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        else:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
    # Variants: a small mark in a corner, so copies are near- but not exact duplicates.
    draw.rectangle((4, 4, 4 + variant * 3, 8), fill=(255, 255, 255))
    draw.text((10, 220), f"VIGIL DEMO {family:03d}", fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


class Command(BaseCommand):
    help = "Create demo queues, the demo team and a few hundred demo cases (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--password", help="Password for every demo user (set even if they exist)."
        )
        parser.add_argument("--cases", type=int, default=300, help="Number of demo content items.")
        parser.add_argument("--seed", type=int, default=2026, help="Random seed for the demo data.")

    def handle(self, *args, password=None, cases=300, seed=2026, **options):
        rng = random.Random(seed)
        queues = self.create_queues()
        self.create_bank()
        users, new_password = self.create_team(password, queues)
        created = self.create_cases(rng, cases)
        decided = self.decide_some(rng, users)
        self.second_looks(users)
        escalated = self.escalations(rng, users)
        # Last, and from a generator of their own: the other demo data stays what it was, and the
        # clips are the same whatever else this run created.
        self.videos(random.Random(f"{seed}/videos"))
        demo_conversations(random.Random(f"{seed}/conversations"), picture=demo_image(None, 41, 0))

        self.stdout.write(
            self.style.SUCCESS(
                f"Demo ready: {len(queues)} queues, {len(users)} users, "
                f"{created} new cases, {decided} new decisions "
                f"({Case.objects.filter(status=Case.Status.OPEN).count()} open in all), "
                f"{escalated} new escalations."
            )
        )
        shown = password or new_password
        names = ", ".join(u.username for u in users)
        if shown:
            self.stdout.write(f"Demo logins: {names}")
            self.stdout.write(f"Password for all of them: {shown}")
        else:
            self.stdout.write(
                f"Demo logins: {names} (passwords unchanged; use --password to reset)"
            )

    def create_bank(self) -> None:
        """A bank holding the PDQ hashes of a few demo picture families, so some demo cases show
        what a match to known material looks like (their copies differ by a few bits)."""
        bank, _ = HashBank.objects.get_or_create(
            slug="demo-known",
            defaults={
                "name": "Demo known-material bank",
                "description": "Hashes of generated demo pictures standing in for known material.",
                "source": "seed_demo",
                "signal_types": ["pdq", "md5"],
                "policy": HashBank.Policy.ACT_AND_ESCALATE,
            },
        )
        if not bank.entries.exists():
            lines = [
                f"pdq,{perceptual_hashes(demo_image(None, family, 0)).pdq},demo family {family}"
                for family in DEMO_BANK_FAMILIES
            ]
            bank_import(bank=bank, text="\n".join(lines), actor_label="seed_demo")

    def create_queues(self) -> list[Queue]:
        for spec in DEMO_QUEUES:
            Queue.objects.get_or_create(slug=spec["slug"], defaults=spec)
        return list(Queue.objects.filter(is_active=True))

    @transaction.atomic
    def create_team(self, password, queues):
        generated = None
        users = []
        now = timezone.now()
        for username, role in TEAM:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={"email": f"{username}@vigil.invalid", "is_staff": role == Role.ADMIN},
            )
            if password:
                user.set_password(password)
                user.save(update_fields=["password"])
            elif created:
                generated = generated or secrets.token_urlsafe(9)
                user.set_password(generated)
                user.save(update_fields=["password"])
            user.groups.add(Group.objects.get(name=role.value))
            for queue in queues:
                if queue.slug == "senior-review" and role == Role.REVIEWER:
                    continue
                QueueCertification.objects.get_or_create(
                    user=user,
                    queue=queue,
                    defaults={
                        "granted_at": now,
                        "expires_at": now + timedelta(days=CERTIFICATION_DAYS),
                    },
                )
            users.append(user)
        return users, generated

    def create_cases(self, rng: random.Random, count: int) -> int:
        existing = set(
            ContentItem.objects.filter(platform_id__startswith="demo-").values_list(
                "platform_id", flat=True
            )
        )
        categories, weights = zip(*CATEGORY_WEIGHTS.items(), strict=True)
        now = timezone.now()
        created = 0
        for i in range(1, count + 1):
            platform_id = f"demo-{i:04d}"
            # Draw the random values even for existing items so reruns stay deterministic.
            category = rng.choices(categories, weights)[0]
            reports = rng.choice([1, 1, 1, 2, 3, 5])
            has_image = rng.random() < 0.45
            family = rng.randrange(0, 40)
            hours_ago = rng.uniform(0, 30)
            if platform_id in existing:
                continue
            involves_child = (
                category
                in (
                    Category.CSAM,
                    Category.CHILD_NUDITY,
                    Category.GROOMING,
                    Category.SEXTORTION,
                    Category.SELF_GENERATED,
                )
                or rng.random() < 0.05
            )
            for n in range(reports):
                images = []
                if has_image and n == 0:
                    images = [
                        inspect_image(demo_image(rng, family, i % 5), filename=f"upload-{i}.png")
                    ]
                report = report_submit(
                    category=category,
                    description=rng.choice(DESCRIPTIONS),
                    involves_child=involves_child,
                    images=images,
                    reporter_kind=Report.ReporterKind.SELF
                    if category == Category.SELF_GENERATED
                    else Report.ReporterKind.PLATFORM_USER,
                    source=Report.Source.API,
                    actor_label="seed_demo",
                    content=ContentFacts(
                        platform_id=platform_id,
                        url=f"https://social.example/p/{platform_id}",
                        type="image" if has_image else rng.choice(["post", "message", "account"]),
                        owner_id=f"user-{rng.randrange(1000, 9999)}",
                        owner_handle=f"@demo_user_{rng.randrange(100, 999)}",
                        language=DEMO_LANGUAGES[i % len(DEMO_LANGUAGES)],
                        reach=(i * 7919) % 250_000 if i % 3 == 0 else None,
                    ),
                )
            # Spread arrival times so queues show realistic waiting times.
            case = report.case
            _arrived(case, now - timedelta(hours=hours_ago), now)
            created += 1
        return created

    def decide_some(self, rng: random.Random, users) -> int:
        """A few decisions by reviewer2, so the audit log and history are not empty."""
        reviewer = next(u for u in users if u.username == "reviewer2")
        if Case.objects.filter(decisions__reviewer=reviewer).exists():
            return 0
        decided = 0
        for _ in range(12):
            case = case_claim_next(user=reviewer)
            if case is None:
                break
            action = rng.choice(
                [Decision.Action.REMOVE, Decision.Action.NO_VIOLATION, Decision.Action.WARN]
            )
            required = decision_requirements(
                category=case.category, action=action, queue=case.queue
            )
            if "classification" in required:
                # Classified A1-B2, it is a CSAM finding: removed and reported, nothing less.
                action = Decision.Action.ESCALATE
            case_decide(
                case_id=case.pk,
                user=reviewer,
                action=action,
                policy=DEFAULT_POLICY[case.category],
                intent=Decision.Intent.MALICIOUS if "intent" in required else "",
                classification=Decision.Classification.B2 if "classification" in required else "",
                notes="Demo decision.",
            )
            decided += 1
        return decided

    def second_looks(self, users) -> None:
        """An owner's appeal against one of reviewer2's decisions, and two of them re-reviewed
        blind by reviewer3, one in disagreement, so the appeals queue and the supervisor's
        disagreements page have something to show."""

        if Appeal.objects.exists() or ReReview.objects.exists():
            return
        by_name = {u.username: u for u in users}
        findings = list(
            Decision.objects.filter(reviewer=by_name["reviewer2"], case__status="decided")
            .exclude(action=Decision.Action.NO_VIOLATION)
            .select_related("case__content_item")
            .order_by("pk")[:3]
        )
        with transaction.atomic():
            for decision in findings[:2]:
                rereview_open(decision=decision, why="demo", actor_label="seed_demo")
        for agree in (True, False):
            task = rereview_claim_next(user=by_name["reviewer3"])
            if task is None:
                break
            original = task.decision
            action = original.action if agree else Decision.Action.NO_VIOLATION
            rereview_record(
                task_id=task.pk,
                user=by_name["reviewer3"],
                action=action,
                policy=original.policy,
                intent=original.intent if agree else "",
                classification=original.classification if agree else "",
                notes="Demo re-review.",
            )
        if len(findings) == 3:
            appeal_open(
                content_id=findings[2].case.content_item.platform_id,
                statement="Demo appeal: the owner says the post was satire.",
                actor_label="seed_demo",
            )

    def escalations(self, rng: random.Random, users) -> int:
        """Two reports to NCMEC about demo accounts, so the escalation pages show the whole way:
        reviewer1 escalated both accounts' posts and wrote the reports; senior1 approved the first
        (its packet is assembled at once in the embedded mode, by a worker otherwise), the second
        waits for approval. The pictures are generated like every demo image."""

        if ContentItem.objects.filter(platform_id__startswith="escalated-demo-").exists():
            return 0
        by_name = {u.username: u for u in users}
        reviewer, senior = by_name["reviewer1"], by_name["senior1"]
        supervisor = UserModel.objects.get(username="supervisor1")
        now = timezone.now()
        accounts = [
            (
                "user-4711",
                "@demo_sharer",
                2,
                "Demo: the account posted two generated demo "
                "pictures standing in for abuse material in a public group.",
            ),
            (
                "user-4712",
                "@demo_trader",
                1,
                "Demo: the account offered a generated demo picture in a public post.",
            ),
        ]
        opened = 0
        for n, (owner, handle, posts, summary) in enumerate(accounts):
            for post in range(posts):
                posted = now - timedelta(hours=6 + post)
                report = report_submit(
                    category=Category.CSAM,
                    involves_child=True,
                    description="Demo report.",
                    images=[
                        inspect_image(
                            demo_image(rng, 60 + 2 * n + post, 0), filename=f"IMG_{n}{post}.png"
                        )
                    ],
                    reporter_kind=Report.ReporterKind.PLATFORM_USER,
                    source=Report.Source.API,
                    actor_label="seed_demo",
                    content=ContentFacts(
                        platform_id=f"escalated-demo-{n}-{post}",
                        url=f"https://social.example/p/escalated-demo-{n}-{post}",
                        type="image",
                        owner_id=owner,
                        owner_handle=handle,
                        posted_at=posted,
                        publicly_available=True,
                        ip_captures=[
                            IpCaptureIn(
                                ip=f"203.0.113.{10 + n}", event="Upload", captured_at=posted
                            )
                        ],
                    ),
                )
                case_reassign(case_id=report.case_id, by=supervisor, to=reviewer)
                case_decide(
                    case_id=report.case_id,
                    user=reviewer,
                    action=Decision.Action.ESCALATE,
                    policy="child-safety/sexual-exploitation",
                    intent=Decision.Intent.MALICIOUS,
                    classification=Decision.Classification.A1,
                    notes="Demo escalation.",
                )
            escalation = Escalation.objects.get(owner_id=owner, status__in=Escalation.GATHERING)
            escalation_update_details(
                escalation_id=escalation.pk,
                user=reviewer,
                incident_type=Escalation.IncidentType.values[0],
                incident_summary=summary,
                annotations=[],
                urgent=False,
                urgent_reason="",
            )
            escalation_request_approval(escalation_id=escalation.pk, user=reviewer)
            if n == 0:
                escalation_approve(escalation_id=escalation.pk, user=senior)
            opened += 1
        return opened

    def videos(self, rng: random.Random) -> int:
        """The demo's video posts (DEMO_VIDEOS), and the bank of known videos that lists one of
        them. Their files are made only when a post is missing."""
        existing = set(
            ContentItem.objects.filter(platform_id__startswith="video-demo-").values_list(
                "platform_id", flat=True
            )
        )
        if existing >= {spec[0] for spec in DEMO_VIDEOS}:
            return 0
        seeds = [rng.randrange(2**32) for _ in range(4)]
        clip = encode(demo_frames(seeds[0], "1"))
        files = {
            "clip": clip,
            # As a platform re-encodes an upload: smaller, more compressed.
            "copy": reencode(clip, size=(240, 180), crf=34),
            "known": encode(demo_frames(seeds[1], "2")),
            "webm": encode(demo_frames(seeds[2], "3"), fmt="webm", crf=36),
            "other": encode(demo_frames(seeds[3], "4")),
        }
        # Before the posts, so the known clip's hashing finds its entry.
        self.create_video_bank(files["known"])
        now = timezone.now()
        created = 0
        for platform_id, name, filename, category, owner, score in DEMO_VIDEOS:
            # Drawn even for existing posts, so the missing ones are what they would have been.
            description, hours_ago = rng.choice(DESCRIPTIONS), rng.uniform(1, 20)
            if platform_id in existing:
                continue
            content = ContentFacts(
                platform_id=platform_id,
                url=f"https://social.example/v/{platform_id}",
                type=ContentItem.Type.VIDEO,
                owner_id=f"user-{owner}",
                owner_handle=f"@demo_video_{owner % 1000:03d}",
                language="en",
            )
            video = [inspect_media(files[name], filename=filename)]
            involves_child = category == Category.CSAM
            if score is None:
                case = report_submit(
                    category=category,
                    description=description,
                    involves_child=involves_child,
                    images=video,
                    reporter_kind=Report.ReporterKind.PLATFORM_USER,
                    source=Report.Source.API,
                    actor_label="seed_demo",
                    content=content,
                ).case
            else:
                flag, _ = flag_submit(
                    source=DEMO_CLASSIFIER,
                    external_id=platform_id,
                    category=category,
                    score=score,
                    model_version="demo-1",
                    involves_child=involves_child,
                    images=video,
                    actor_label="seed_demo",
                    content=content,
                )
                case = flag.case
            _arrived(case, now - timedelta(hours=hours_ago), now)
            created += 1
        return created

    def create_video_bank(self, known: bytes) -> None:
        """A bank of known videos holding the vPDQ of one demo clip, imported as a hash list is
        (python-threatexchange's CSV: the signal is a JSON list of "pdq,quality,timestamp")."""
        bank, _ = HashBank.objects.get_or_create(
            slug=DEMO_VIDEO_BANK,
            defaults={
                "name": "Demo known videos",
                "description": "vPDQ of a generated demo clip standing in for known material.",
                "source": "seed_demo",
                "signal_types": ["vpdq"],
                "policy": HashBank.Policy.ACT_AND_ESCALATE,
            },
        )
        if not bank.entries.exists():
            signal = to_signal(vpdq_hash(io.BytesIO(known)).frames)
            line = io.StringIO()
            csv.writer(line).writerow(["vpdq", signal, "demo known clip"])
            bank_import(bank=bank, text=line.getvalue(), actor_label="seed_demo")


def _arrived(case, at, now) -> None:
    """Date a demo case back to `at` (queues then show realistic waiting times) and price it."""
    Case.objects.filter(pk=case.pk).update(created_at=at, waiting_since=at)
    case.refresh_from_db()
    with transaction.atomic():
        case_refresh_priority(case=case, now=now)
