"""The supervisor's view of the team: exposure, rotation, pauses and certifications.

A fixed number of queries whatever the team's size or history: the reviewers, then one grouped
query each for exposure, queues worked, current pauses, certifications and roles.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Prefetch, Q
from django.utils import timezone

from accounts.models import ExposureEvent, QueueCertification, SensitivePause, User
from accounts.wellness import (
    REVEALS,
    SENSITIVE_DECISIONS,
    VIDEO_REVEALS,
    seconds_played,
    shift_start,
)

ROTATION_DAYS = 7


@dataclass
class Member:
    user: User
    shift_reveals: int = 0
    shift_sensitive: int = 0
    week_reveals: int = 0
    week_sensitive: int = 0
    # Of the reveals, those of videos; and the seconds of video played.
    shift_videos: int = 0
    shift_seconds: float = 0.0
    week_videos: int = 0
    week_seconds: float = 0.0
    # [(queue name, decisions, sensitive?)] over the last ROTATION_DAYS days, most worked first.
    rotation: list = field(default_factory=list)
    pause: SensitivePause | None = None
    # Their queue certifications (prefetched), and how many of them have expired.
    certifications: list = field(default_factory=list)
    expired: int = 0
    # moderation.supervision.reviewer_stats.Quality over the chosen period, when the page asks for it.
    quality: object = None

    @property
    def shift_total(self) -> int:
        return self.shift_reveals + self.shift_sensitive

    @property
    def week_total(self) -> int:
        return self.week_reveals + self.week_sensitive

    @property
    def sensitive_share(self) -> int | None:
        """Percent of the week's decisions made in sensitive queues (None without decisions)."""
        total = sum(n for _, n, _ in self.rotation)
        if not total:
            return None
        return round(100 * sum(n for _, n, s in self.rotation if s) / total)


def team_overview(now: datetime | None = None, only: int | None = None) -> list[Member]:
    """Every active reviewer, or (`only`) the one user with that id, reviewer or not."""
    now = now or timezone.now()
    shift, week = shift_start(now), now - timedelta(days=ROTATION_DAYS)
    people = (
        User.objects.filter(pk=only)
        if only is not None
        else User.objects.filter(
            is_active=True,
            groups__permissions__codename="review_cases",
            groups__permissions__content_type__app_label="accounts",
        )
    )
    users = list(
        people.distinct()
        .order_by("username")
        .prefetch_related(
            "groups",
            Prefetch(
                "certifications",
                queryset=QueueCertification.objects.select_related("queue", "granted_by").order_by(
                    "queue__order"
                ),
            ),
        )
    )
    members = {u.pk: Member(user=u) for u in users}
    for member in members.values():
        member.certifications = list(member.user.certifications.all())
        member.expired = sum(1 for c in member.certifications if c.expires_at < now)
    recent = ExposureEvent.objects.filter(at__gt=week, user_id__in=members)
    in_shift = Q(at__gt=shift)
    for row in (
        recent.values("user_id")
        .annotate(
            shift_reveals=Count("pk", filter=REVEALS & in_shift),
            shift_sensitive=Count("pk", filter=SENSITIVE_DECISIONS & in_shift),
            week_reveals=Count("pk", filter=REVEALS),
            week_sensitive=Count("pk", filter=SENSITIVE_DECISIONS),
            shift_videos=Count("pk", filter=VIDEO_REVEALS & in_shift),
            shift_seconds=seconds_played(at__gt=shift),
            week_videos=Count("pk", filter=VIDEO_REVEALS),
            week_seconds=seconds_played(),
        )
        .order_by()
    ):
        member = members[row.pop("user_id")]
        for name, value in row.items():
            setattr(member, name, value)
    rotation = defaultdict(list)
    for user_id, name, sensitive, n in (
        recent.filter(kind=ExposureEvent.Kind.DECISION)
        .values("user_id", "queue__name", "queue__sensitive")
        .annotate(n=Count("pk"))
        .order_by("user_id", "-n", "queue__name")
        .values_list("user_id", "queue__name", "queue__sensitive", "n")
    ):
        rotation[user_id].append((name, n, sensitive))
    for user_id, worked in rotation.items():
        members[user_id].rotation = worked
    for pause in SensitivePause.objects.filter(
        SensitivePause.active_q(now), user_id__in=members
    ).order_by("until"):
        members[pause.user_id].pause = pause  # the latest-ending one wins
    return list(members.values())
