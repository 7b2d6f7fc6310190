"""The demo's conversations (seed_demo): an adult account writing to two young people in the
patterns grooming follows (flattery, secrecy, moving to a private app, asking for a photo) — in
plain words, nothing explicit — so the conversation view, its reported messages, an account case
and a long thread to page through can be seen. A generated picture stands in for an attachment."""

import random
from datetime import timedelta

from django.utils import timezone

from reports.content import ContentFacts
from reports.conversation_intake import conversation_report_submit
from reports.conversations import ConversationFacts, MessageFacts, ParticipantFacts
from reports.media import inspect_image
from reports.models import ContentItem, Report

ADULT = ("acct-demo-adult-1", "@friendly_coach", 38)
YOUNG = [("acct-demo-teen-1", "@skye.draws", 13), ("acct-demo-teen-2", "@milo_plays", 14)]

OPENING = [
    (0, "hey! saw your drawings, you're really talented"),
    (1, "oh thanks!! nobody at school says that"),
    (0, "they're jealous. you seem way more mature than kids your age"),
    (1, "lol maybe"),
    (0, "do your parents check your phone?"),
    (1, "sometimes why"),
    (0, "this is just between us ok? they wouldn't get it"),
    (0, "let's talk on the other app, it's more private. add me there"),
    (1, "idk"),
    (0, "send me a photo of you so I know you're real"),
    (1, "i don't really want to"),
    (0, "come on, I thought we were friends"),
]
# The messages a reporter points at: the secrecy, the move to a private app, the photo.
REPORTED = {6, 7, 9, 11}
SMALL_TALK = [
    "how was school",
    "ok i guess",
    "what are you drawing today",
    "a dragon",
    "cool send it when it's done",
    "what games do you play",
]


def demo_conversations(rng: random.Random, *, picture: bytes) -> int:
    """Two reported conversations with the same adult (which opens an account case about them)
    and a long one (600 messages) to page through. Returns how many were created."""
    created = 0
    for n, (young_id, handle, age) in enumerate(YOUNG, start=1):
        conversation_id = f"conv-demo-{n}"
        long = n == 2
        if ContentItem.objects.filter(platform_id=conversation_id).exists():
            continue
        lines = list(OPENING)
        if long:
            lines = [(i % 2, SMALL_TALK[i % len(SMALL_TALK)]) for i in range(588)] + lines
        start = timezone.now() - timedelta(days=rng.randint(3, 9))
        people = (ADULT[0], young_id)
        messages = [
            MessageFacts(
                id=f"{conversation_id}-{i}",
                sender_id=people[who],
                sent_at=start + timedelta(minutes=3 * i),
                text=text,
                reported=i - (len(lines) - len(OPENING)) in REPORTED,
                attachments=(
                    [inspect_image(picture, filename="drawing.png")]
                    if text.startswith("oh thanks")
                    else []
                ),
            )
            for i, (who, text) in enumerate(lines)
        ]
        conversation_report_submit(
            category="grooming",
            reporter_kind=Report.ReporterKind.PLATFORM_USER,
            source=Report.Source.API,
            content=ContentFacts(
                platform_id=conversation_id, owner_id=ADULT[0], owner_handle=ADULT[1]
            ),
            conversation=ConversationFacts(
                participants=[
                    ParticipantFacts(
                        account_id=ADULT[0], handle=ADULT[1], age=ADULT[2], age_source="estimated"
                    ),
                    ParticipantFacts(
                        account_id=young_id, handle=handle, age=age, age_source="stated"
                    ),
                ],
                messages=messages,
            ),
            description="Reported with the platform's 'Something's wrong' button.",
            reporter_account_id=young_id,
            actor_label="seed_demo",
        )
        # Its jobs (hashing the attachment, fetching links, checking the adult's account against
        # the account case thresholds) run as intake's always do.
        created += 1
    return created
