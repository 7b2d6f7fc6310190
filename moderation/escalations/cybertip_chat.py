"""Conversations in a CyberTipline report and its packet (issue 19; Coop's requests #846, #843,
#661): who took part, what was said, and which message carried which file. This module reads the
records (reports.models Participant, Message, Media.message, Link.message) and puts them into
words; moderation/escalations/cybertip.py writes the XML, moderation/escalations/packet.py the
transcript.

A conversation (ContentItem.Type.CONVERSATION) is a chat incident: `chatImIncident` with an
excerpt of the conversation, the reported account as `personOrUserReported`, the accounts it was
talking to as `intendedRecipient` (minors first) and each minor among them as a `victim`.

Bounded. A conversation can have 10,000 messages. The report carries an excerpt: the reported
messages first, then their neighbours nearest first, within CHAT_CONTENT_MAX_CHARS, in the order
they were sent with the gaps marked. The whole thread is the packet's transcript
(conversation/<n>.txt), read a batch of messages at a time. Neither holds more than a batch of
messages in memory, nor more than the first MESSAGE_MAX_CHARS of a message for the excerpt.

What was approved is what goes. Messages and participants Vigil received after the escalation was
approved are left out, as media received later are left out of its evidence: they belong to a
later report.

Reporters. Whether a participant reported the conversation (Participant.is_reporter) is never
said, here or in the packet, and ReporterIdentity is never read: a participant is named for what
they are in the conversation (the reported account, someone it was talking to, a child).
"""

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import PurePosixPath

from django.db.models import Count, Max, Min, Q
from django.db.models.functions import Substr

from reports.models import ContentItem, Link, Media, Message, Participant

# The schema puts no length on chatImIncident/content, but NCMEC's API documentation limits its
# free-text fields (additionalInfo, incidentDateTimeDescription, ...) to 3,000 characters (as
# Coop's integration found, roostorg/coop #27, #477). A report refused for its length reaches
# nobody, so the excerpt keeps within that and says where the rest is.
CHAT_CONTENT_MAX_CHARS = 3000
# One long message may not crowd out the others: the excerpt shows its beginning.
MESSAGE_MAX_CHARS = 400
# The messages on each side of a reported one that the excerpt shows for context.
NEIGHBOURS = 3
# The most messages read for an excerpt: fewer fit in CHAT_CONTENT_MAX_CHARS anyway (a line is
# at least ~30 characters and a gap marker).
EXCERPT_MAX_MESSAGES = 100
# Messages read at a time for the transcript.
BATCH = 500
# Intended recipients and victims named in the report (a large group chat lists the rest in the
# packet's transcript and summary).
RECIPIENTS_MAX = 50

_GAP = "[… {n} message{s} not shown …]"
# What one gap marker and its line break can take: each message shown may open one gap.
_GAP_ROOM = len(_GAP.format(n=10**6, s="s")) + 1
ROLE_ORDER = {Participant.Role.MINOR: 0, Participant.Role.UNKNOWN: 1, Participant.Role.ADULT: 2}


def xml_datetime(value: datetime) -> str:
    """xs:dateTime in UTC to the second, e.g. 2026-11-20T09:15:00Z."""
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def is_conversation(item: ContentItem) -> bool:
    return item.type == ContentItem.Type.CONVERSATION


def label(item: ContentItem) -> str:
    """How the report names a conversation: the platform's id, else its address."""
    return str(item)


def transcript_names(items: list[ContentItem]) -> dict[int, str]:
    """Where each conversation's transcript goes in the packet, by content item id: the
    conversations numbered in the order of `items`."""
    conversations = [item for item in items if is_conversation(item)]
    return {item.pk: f"conversation/{n:04d}.txt" for n, item in enumerate(conversations, start=1)}


def transcript_file_name(name: str) -> str:
    """A transcript's name as a file sent with the report (the authority's files have no
    folders): conversation/0001.txt is conversation-0001.txt."""
    return name.replace("/", "-")


def _messages(item: ContentItem, cutoff: datetime | None):
    messages = Message.objects.filter(conversation=item)
    return messages.filter(created_at__lte=cutoff) if cutoff else messages


def _participants(items: list[ContentItem], cutoff: datetime | None):
    participants = Participant.objects.filter(conversation__in=items)
    return participants.filter(created_at__lte=cutoff) if cutoff else participants


# --- Participants --------------------------------------------------------------------------


@dataclass
class Party:
    """An account taking part in the escalated conversations (merged across them by account)."""

    account_id: str
    handle: str = ""
    display_name: str = ""
    age: int | None = None
    age_source: str = ""
    role: str = Participant.Role.UNKNOWN
    email: str = ""
    reported: bool = False
    # Every listing of the account in a report (False: only named as a message's sender).
    listed: bool = True
    conversations: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.handle or f"account {self.account_id}"

    def age_words(self, platform: str) -> str:
        if self.age is None:
            return f"age unknown ({platform} gave none)"
        role = "a minor" if self.role == Participant.Role.MINOR else "an adult"
        if self.age_source == Participant.AgeSource.ESTIMATED:
            return f"{role}, aged about {self.age} as estimated by {platform}"
        if self.age_source == Participant.AgeSource.REPORTED:
            return f"{role}, aged {self.age} as the person reporting said"
        return f"{role}, aged {self.age} as stated on {platform}"

    def words(self, platform: str) -> str:
        """One sentence on who this is in the conversations, for additionalInfo."""
        where = ", ".join(self.conversations)
        text = (
            f"A participant of the conversation{'s' if len(self.conversations) > 1 else ''} "
            f"{where} on {platform}: {self.age_words(platform)}."
        )
        if not self.listed:
            text += " Named only as the sender of a message, not among the participants listed."
        return text


@dataclass
class Parties:
    # The accounts the report is about: the escalation's owner first when they took part.
    reported: list[Party]
    # Everyone else, minors first, then those of unknown age, then adults (at most
    # RECIPIENTS_MAX), and how many there are in all.
    recipients: list[Party]
    recipients_total: int

    @property
    def victims(self) -> list[Party]:
        return [p for p in self.recipients if p.role == Participant.Role.MINOR]


def parties(
    items: list[ContentItem], *, owner_id: str, cutoff: datetime | None
) -> dict[str, Party]:
    """Every participant of the conversations among `items`, by account id, in the order they
    were first recorded. An account in several conversations is one party: the first known
    value of each fact wins."""
    conversations = [item for item in items if is_conversation(item)]
    if not conversations:
        return {}
    labels = {item.pk: label(item) for item in conversations}
    merged: dict[str, Party] = {}
    for p in _participants(conversations, cutoff).order_by("conversation_id", "pk"):
        party = merged.setdefault(p.account_id, Party(account_id=p.account_id, listed=False))
        party.handle = party.handle or p.handle
        party.display_name = party.display_name or p.display_name
        party.email = party.email or p.email
        if party.age is None and p.age is not None:
            party.age, party.age_source, party.role = p.age, p.age_source, p.role
        party.reported = party.reported or p.reported or p.account_id == owner_id
        party.listed = party.listed or p.listed
        party.conversations.append(labels[p.conversation_id])
    return merged


def split_parties(merged: dict[str, Party], *, owner_id: str) -> Parties:
    reported = sorted(
        (p for p in merged.values() if p.reported), key=lambda p: p.account_id != owner_id
    )
    others = [p for p in merged.values() if not p.reported]
    others.sort(key=lambda p: ROLE_ORDER[p.role])  # stable: first recorded first within a role
    return Parties(reported, others[:RECIPIENTS_MAX], len(others))


# --- Messages as text ----------------------------------------------------------------------


def message_text(
    *,
    sent_at: datetime,
    sender: str,
    text: str,
    reported: bool,
    files: list[str],
    limit: int | None = None,
) -> str:
    """A message as one entry of a transcript: time (UTC), sender, its text (continuation lines
    indented), then its files. `limit` shortens the text, saying so."""
    if limit is not None and len(text) > limit:
        text = text[:limit].rstrip() + " […]"
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\n    ")
    mark = " (reported)" if reported else ""
    attached = "".join(f" [file: {name}]" for name in files)
    return f"[{xml_datetime(sent_at)}] {sender}{mark}: {text}{attached}"


def _files_of_messages(message_ids: list[int], file_names: dict[str, str]) -> dict[int, list[str]]:
    """The files each message carried (attached, or found at a link it sent), named by
    `file_names` (sha256 -> name); an attachment the packet does not carry is said to exist."""
    found: dict[int, list[str]] = {}
    attached = Media.objects.filter(message_id__in=message_ids).order_by("pk")
    linked = Link.objects.filter(message_id__in=message_ids, media__isnull=False).order_by("pk")
    for message_id, sha in [
        *attached.values_list("message_id", "sha256"),
        *linked.values_list("message_id", "media__sha256"),
    ]:
        name = file_names.get(sha, "an attachment not in this report")
        names = found.setdefault(message_id, [])
        if name not in names:
            names.append(name)
    return found


@dataclass(frozen=True)
class ThreadFacts:
    total: int
    reported: int
    first_at: datetime | None
    last_at: datetime | None


def thread_facts(item: ContentItem, cutoff: datetime | None) -> ThreadFacts:
    facts = _messages(item, cutoff).aggregate(
        total=Count("pk"),
        reported=Count("pk", filter=Q(reported=True)),
        first_at=Min("sent_at"),
        last_at=Max("sent_at"),
    )
    return ThreadFacts(**facts)


@dataclass(frozen=True)
class Excerpt:
    text: str
    shown: int
    facts: ThreadFacts
    # Messages shown only in part (longer than MESSAGE_MAX_CHARS).
    shortened: int = 0

    @property
    def whole(self) -> bool:
        return self.shown == self.facts.total and not self.shortened


def _candidates(item: ContentItem, cutoff: datetime | None, facts: ThreadFacts):
    """{message id: (distance to the nearest reported message, position in the thread)} for the
    excerpt, read as ids in thread order (one pass, a few ids held at a time). Without a reported
    message, the thread's first messages, earliest first."""
    thread = _messages(item, cutoff).order_by("sent_at", "pk")
    if not facts.reported:
        ids = thread.values_list("pk", flat=True)[:EXCERPT_MAX_MESSAGES]
        return {pk: (position, position) for position, pk in enumerate(ids)}
    picked: dict[int, tuple[int, int]] = {}
    before: deque[tuple[int, int]] = deque(maxlen=NEIGHBOURS)
    reported_seen, last_reported = 0, None

    def pick(pk: int, distance: int, position: int) -> None:
        if pk not in picked or picked[pk][0] > distance:
            picked[pk] = (distance, position)

    rows = thread.values_list("pk", "reported").iterator(chunk_size=BATCH)
    for position, (pk, reported) in enumerate(rows):
        if reported and reported_seen < EXCERPT_MAX_MESSAGES:
            reported_seen += 1
            last_reported = position
            pick(pk, 0, position)
            for earlier_position, earlier in before:
                pick(earlier, position - earlier_position, earlier_position)
        elif last_reported is not None and position - last_reported <= NEIGHBOURS:
            pick(pk, position - last_reported, position)
        elif reported_seen >= EXCERPT_MAX_MESSAGES:
            break  # every message the excerpt may show has been seen
        before.append((position, pk))
    return picked


def excerpt(
    item: ContentItem,
    *,
    cutoff: datetime | None,
    file_names: dict[str, str],
    max_chars: int = CHAT_CONTENT_MAX_CHARS,
) -> Excerpt:
    """The conversation as the report carries it (chatImIncident/content): the reported
    messages and their neighbours within `max_chars`, in the order they were sent, a marker
    where messages are left out. `file_names`: sha256 -> the name the report gives the file."""
    facts = thread_facts(item, cutoff)
    if not facts.total:
        return Excerpt("", 0, facts)
    candidates = _candidates(item, cutoff, facts)
    # The most wanted first; only as many as can fit are read, and only their beginnings.
    wanted = sorted(candidates, key=lambda pk: candidates[pk])[:EXCERPT_MAX_MESSAGES]
    messages = {
        m.pk: m
        for m in Message.objects.filter(pk__in=wanted)
        .select_related("sender")
        .defer("text")
        .annotate(head=Substr("text", 1, MESSAGE_MAX_CHARS + 1))
    }
    files = _files_of_messages(wanted, file_names)
    chosen, used, shortened = [], _GAP_ROOM, 0  # room for a gap after the last message shown
    for pk in wanted:
        m = messages[pk]
        line = message_text(
            sent_at=m.sent_at,
            sender=m.sender.handle or f"account {m.sender.account_id}",
            text=m.head,
            reported=m.reported,
            files=files.get(pk, []),
            limit=MESSAGE_MAX_CHARS,
        )
        if used + len(line) + 1 + _GAP_ROOM > max_chars:
            continue  # a shorter one may still fit
        used += len(line) + 1 + _GAP_ROOM
        chosen.append((candidates[pk][1], line))
        shortened += len(m.head) > MESSAGE_MAX_CHARS
    chosen.sort()
    lines, expected = [], 0
    for position, line in chosen:
        if position > expected:
            lines.append(_gap(position - expected))
        lines.append(line)
        expected = position + 1
    if expected < facts.total:
        lines.append(_gap(facts.total - expected))
    return Excerpt("\n".join(lines), len(chosen), facts, shortened)


def _gap(n: int) -> str:
    return _GAP.format(n=n, s="" if n == 1 else "s")


def excerpt_words(
    item: ContentItem, shown: Excerpt, *, platform: str, transcript: str, recipients_total: int
) -> str:
    """chatImIncident/additionalInfo: what the conversation is, what the excerpt shows and
    where the rest is."""
    facts = shown.facts
    parts = [f"Conversation {label(item)} on {platform}"]
    if item.url:
        parts[0] += f" ({item.url})"
    parts[0] += "."
    if facts.total:
        parts.append(
            f"{facts.total} message{'s' if facts.total != 1 else ''} "
            f"({facts.reported} reported), sent from {xml_datetime(facts.first_at)} to "
            f"{xml_datetime(facts.last_at)}."
        )
        if shown.whole:
            parts.append(
                "The content above is the whole conversation as received, in the order sent "
                "(times UTC)."
            )
        else:
            which = (
                f"shows {shown.shown} of them, the reported messages and their neighbours,"
                if shown.shown < facts.total
                else "shows all of them,"
            )
            cut = (
                f" {shown.shortened} long message{'s' if shown.shortened != 1 else ''} only in "
                "part;"
                if shown.shortened
                else ""
            )
            parts.append(
                f"The content above {which} in the order they were sent (times UTC);{cut} the "
                "full thread, every message whole with its time, sender and files, is the file "
                f"{transcript_file_name(transcript)} sent with this report ({transcript} in "
                f"{platform}'s packet for it)."
            )
    else:
        parts.append("No message of it was received.")
    if recipients_total > RECIPIENTS_MAX:
        parts.append(
            f"{recipients_total} accounts took part besides the reported one: the first "
            f"{RECIPIENTS_MAX} (minors first) are named as intended recipients, all of them in "
            f"the packet's {transcript}."
        )
    return " ".join(parts)


def earliest_message(item: ContentItem, cutoff: datetime | None) -> tuple[datetime, bool] | None:
    """When the incident in this conversation happened as far as the records say: the earliest
    reported message (True), else the earliest message (False); None without messages."""
    messages = _messages(item, cutoff)
    first = messages.filter(reported=True).aggregate(at=Min("sent_at"))["at"]
    if first is not None:
        return first, True
    first = messages.aggregate(at=Min("sent_at"))["at"]
    return (first, False) if first is not None else None


# --- The packet's transcript ---------------------------------------------------------------


def transcript(
    item: ContentItem,
    *,
    cutoff: datetime | None,
    file_names: dict[str, str],
    platform: str,
    case_id: int,
) -> Iterator[str]:
    """The whole conversation as text for people, a piece at a time: who took part, then every
    message in the order sent with its files (`file_names`: sha256 -> name in the packet). Reads
    BATCH messages at a time (by their thread index), so memory stays flat however long the
    conversation."""
    facts = thread_facts(item, cutoff)
    yield f"Conversation {label(item)} on {platform} (case {case_id})\n"
    if item.url:
        yield f"Address: {item.url}\n"
    yield "Times are UTC. Messages received after the escalation was approved are not here.\n\n"
    participants = list(_participants([item], cutoff).order_by("pk"))
    yield f"Participants ({len(participants)}):\n"
    for p in participants:
        party = Party(
            account_id=p.account_id, age=p.age, age_source=p.age_source, role=p.role
        ).age_words(platform)
        named = f", “{p.display_name}”" if p.display_name else ""
        notes = ["the reported account"] if p.reported or p.account_id == item.owner_id else []
        if not p.listed:
            notes.append("named only as a message's sender")
        yield (
            f"  {p.handle or '-'} (account {p.account_id}{named}): {party}"
            f"{''.join(f'; {note}' for note in notes)}\n"
        )
    yield f"\nMessages ({facts.total}, {facts.reported} reported):\n"
    senders = {p.pk: p.handle or f"account {p.account_id}" for p in participants}
    thread = _messages(item, cutoff).order_by("sent_at", "pk")
    after: tuple[datetime, int] | None = None
    while True:
        page = thread
        if after is not None:
            at, pk = after
            page = page.filter(Q(sent_at__gt=at) | Q(sent_at=at, pk__gt=pk))
        batch = list(page.values_list("pk", "sent_at", "sender_id", "text", "reported")[:BATCH])
        if not batch:
            return
        files = _files_of_messages([row[0] for row in batch], file_names)
        for pk, sent_at, sender_id, text, reported in batch:
            yield (
                message_text(
                    sent_at=sent_at,
                    sender=senders.get(sender_id, "a participant received later"),
                    text=text,
                    reported=reported,
                    files=files.get(pk, []),
                )
                + "\n"
            )
        after = (batch[-1][1], batch[-1][0])


def transcript_words(
    item: ContentItem | None, *, name: str, sha256: str, platform: str, cutoff: datetime | None
) -> str:
    """What a transcript sent as a file is (its fileDetails' additionalInfo): not reported
    content, but the platform's record of the conversation, made for this report."""
    what = (
        f"the conversation {label(item)} on {platform}" if item else f"a conversation on {platform}"
    )
    counted = ""
    if item is not None:
        facts = thread_facts(item, cutoff)
        counted = (
            f" ({facts.total} message{'s' if facts.total != 1 else ''}, {facts.reported} reported)"
        )
    return (
        f"Not reported content: the transcript of {what}, made by {platform} from its records "
        f"for this report. Every message of the conversation{counted} in the order sent, each "
        "with its time (UTC), sender and files, after the participants and their ages as "
        f"{platform} knows them. The report's chat incident for this conversation quotes an "
        f"excerpt of it. It is {name} in {platform}'s packet for this report, SHA-256 {sha256}."
    )


# --- Which message carried a file ----------------------------------------------------------


@dataclass(frozen=True)
class SentIn:
    """A message of a conversation that carried a file: attached to it, or found at a link it
    sent."""

    conversation: str
    message: str
    sender: Party
    sent_at: datetime
    # The message was reported (not only sent as context).
    reported: bool
    via_link: bool
    url: str = ""

    def words(self, platform: str) -> str:
        how = (
            f"Found at a link ({self.url}) sent in message {self.message}"
            if self.via_link
            else f"Sent as an attachment to message {self.message}"
        )
        return (
            f"{how} of the conversation {self.conversation} on {platform}, by {self.sender.name} "
            f"(account {self.sender.account_id}, {self.sender.age_words(platform)}), at "
            f"{xml_datetime(self.sent_at)}."
        )


def _party(p: Participant) -> Party:
    return Party(
        account_id=p.account_id,
        handle=p.handle,
        display_name=p.display_name,
        age=p.age,
        age_source=p.age_source,
        role=p.role,
    )


def files_sent_in(files) -> dict[str, list[SentIn]]:
    """The messages that carried each file (by SHA-256: the packet carries each content once),
    earliest first, for the files of conversations among `files` (EscalationFiles with
    media__content_item loaded). Two queries when there are any, none otherwise."""
    items = {
        f.media.content_item_id: f.media.content_item
        for f in files
        if is_conversation(f.media.content_item)
    }
    if not items:
        return {}
    shas = {f.sha256 for f in files}
    found: dict[str, dict[int, SentIn]] = {}
    for media in Media.objects.filter(
        content_item_id__in=items, sha256__in=shas, message__isnull=False
    ).select_related("message__sender"):
        m = media.message
        found.setdefault(media.sha256, {}).setdefault(
            m.pk,
            SentIn(
                label(items[m.conversation_id]),
                m.platform_id,
                _party(m.sender),
                m.sent_at,
                m.reported,
                False,
            ),
        )
    for link in Link.objects.filter(
        content_item_id__in=items, media__sha256__in=shas, message__isnull=False
    ).select_related("message__sender", "media"):
        m = link.message
        found.setdefault(link.media.sha256, {}).setdefault(
            m.pk,
            SentIn(
                label(items[m.conversation_id]),
                m.platform_id,
                _party(m.sender),
                m.sent_at,
                m.reported,
                True,
                link.url,
            ),
        )
    return {
        sha: sorted(by_message.values(), key=lambda s: (s.sent_at, s.via_link, s.message))
        for sha, by_message in found.items()
    }


def report_file_name(name: str) -> str:
    """A packet file's name as the report's fileDetails gives it (fileName)."""
    return PurePosixPath(name).name
