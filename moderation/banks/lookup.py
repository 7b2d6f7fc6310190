"""Hash lookups: what a platform asks before it even files a report. A hash, or an image's hashes,
against every active bank: the closest hit per bank, never a list of a bank's entries. Nothing is
stored but the audit record (distances answer "how close", so lookups are watched)."""

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from moderation.audit.services import audit_record
from moderation.banks.index import parse_hex
from moderation.banks.matching import Hit, current_index, find_image_matches, find_matches
from moderation.banks.models import PERCEPTUAL, BankEntry, HashBank
from moderation.banks.video_matching import match_image_in_frame_index
from reports.hashing import exact_hashes, perceptual_hashes


@dataclass(frozen=True)
class LookupMatch:
    """A bank's closest hit, with the entry it hit (its provenance: exchange, source id, labels)."""

    bank: HashBank
    hit: Hit
    entry: BankEntry


@dataclass(frozen=True)
class Lookup:
    # The hashes looked up (for an image: every signal Vigil computes of it).
    hashes: dict
    # Each bank's closest hit, closest first.
    matches: list[LookupMatch]


def banks_listed() -> QuerySet:
    """Active banks with their live entry counts, by slug."""
    return (
        HashBank.objects.filter(is_active=True)
        .annotate(live=Count("entries", filter=Q(entries__removed_at__isnull=True)))
        .order_by("slug")
    )


def bank_thresholds(bank: HashBank) -> dict[str, int]:
    return {t: bank.threshold(t) for t in bank.signal_types if t in PERCEPTUAL}


def _closest_per_bank(hits: list[Hit]) -> list[LookupMatch]:
    # One query, the entries' programmes with them.
    entries = BankEntry.objects.select_related("bank", "exchange").in_bulk(
        [h.entry_id for h in hits]
    )
    per_bank: dict[int, LookupMatch] = {}
    for h in hits:
        entry = entries[h.entry_id]
        if entry.bank_id not in per_bank or h.distance < per_bank[entry.bank_id].hit.distance:
            per_bank[entry.bank_id] = LookupMatch(entry.bank, h, entry)
    return sorted(per_bank.values(), key=lambda m: (m.hit.distance, m.bank.slug))


def _record(lookup: Lookup, *, by: str, actor, actor_label: str, obj) -> Lookup:
    audit_record(
        verb="hash.lookup",
        obj=obj,
        actor=actor,
        actor_label=actor_label,
        after={"by": by, "banks": sorted(m.bank.slug for m in lookup.matches)},
    )
    return lookup


def hash_hits(signal_type: str, value: str, *, video_frames: bool = False) -> list[Hit]:
    """Every live entry of an active bank that one hash (lower-case hex, parsed) matches, each
    within its bank's threshold: what a lookup and the console's search both ask. A PDQ with
    `video_frames` also finds the vPDQ entries with a frame it matches (a still of a known video,
    as an image lookup does). Not audited here: the caller records what it shows."""
    # An exact digest matches lists of either kind (SAME_DIGEST): a video's MD5 is an MD5.
    signal_type = {"video_md5": "md5", "video_sha256": "sha256"}.get(signal_type, signal_type)
    if signal_type != "pdq":
        return find_matches(**{signal_type: value})
    hits = find_matches(pdq_variants=[value])
    if video_frames:
        hits += [
            Hit(h.entry_id, "vpdq", h.distance, h.variant, h.segments)
            for h in match_image_in_frame_index([value], current_index("vpdq"))
        ]
    return hits


def hash_lookup(*, signal_type: str, value: str, actor, actor_label: str, obj) -> Lookup:
    """One hash against the banks. MalformedHash when it is not one of `signal_type`'s. `obj` is
    what the audit record is about (the caller's API token, or the caller)."""
    value = parse_hex(signal_type, value)
    lookup = Lookup(
        hashes={signal_type: value}, matches=_closest_per_bank(hash_hits(signal_type, value))
    )
    return _record(lookup, by="hash", actor=actor, actor_label=actor_label, obj=obj)


def image_lookup(*, data: bytes, actor, actor_label: str, obj) -> Lookup:
    """An image's hashes (its rotations and mirror images too) against the banks. Unhashable
    when it cannot be hashed."""
    p = perceptual_hashes(data)
    sha256, md5, _size = exact_hashes([data])
    hashes = {
        "pdq": p.pdq,
        "pdq_quality": p.pdq_quality,
        "phash": p.phash,
        "dhash": p.dhash,
        "md5": md5,
        "sha256": sha256,
    }
    hits = find_image_matches(p, md5=md5, sha256=sha256)
    lookup = Lookup(hashes=hashes, matches=_closest_per_bank(hits))
    return _record(lookup, by="image", actor=actor, actor_label=actor_label, obj=obj)
