"""vPDQ matching: the reference's pairs among Meta's sample videos, exact against brute force at
each bank's own settings, and frames against image banks both ways."""

import random

import pytest

from moderation.banks.frame_index import build_frame_index
from moderation.banks.hashing import bank_rematch
from moderation.banks.matching import find_image_matches, find_video_matches, forget_indexes
from moderation.banks.models import BankEntry, HashBank
from moderation.banks.services import bank_import
from moderation.banks.video_matching import match_video
from reports.vpdq import FrameHash, compare, frames_from_text, is_match, to_signal
from tests.testdata import VPDQ, VPDQ_VIDEOS, vigil_every_frame


def reference_frames(name: str) -> list[FrameHash]:
    return frames_from_text((VPDQ / "reference-2022" / f"{name}.txt").read_text())


def video_bank(slug="videos", **settings) -> HashBank:
    return HashBank.objects.create(name=slug, slug=slug, signal_types=["vpdq", "pdq"], **settings)


def add_video(bank: HashBank, frames: list[FrameHash], label: str = "") -> BankEntry:
    bank_import(bank=bank, text=f"vpdq {to_signal(frames)} {label}".strip())
    return BankEntry.objects.filter(bank=bank).latest("pk")


@pytest.fixture(autouse=True)
def _fresh():
    forget_indexes()
    yield
    forget_indexes()


@pytest.mark.django_db
class TestTheReferencePairs:
    def test_it_matches_every_pair_the_reference_matches_and_no_other(self):
        bank = video_bank()
        entries = {name: add_video(bank, reference_frames(name)).pk for name in VPDQ_VIDEOS}
        names = {pk: name for name, pk in entries.items()}
        index = build_frame_index()
        for query in VPDQ_VIDEOS:
            ours = vigil_every_frame(query).frames
            got = {names[h.entry_id] for h in match_video(ours, index, interval=1 / 30)}
            expected = {
                name
                for name in VPDQ_VIDEOS
                if is_match(compare(reference_frames(query), reference_frames(name)))
            }
            assert got == expected, query
        # As the sample data's README says: the three SD chairs match one another.
        chairs = {"chair-19-sd-bar", "chair-20-sd-bar", "chair-22-sd-grey-bar"}
        assert all(
            is_match(compare(reference_frames(a), reference_frames(b)))
            for a in chairs
            for b in chairs
        )

    def test_the_percentages_are_the_reference_s(self):
        bank = video_bank()
        entry = add_video(bank, reference_frames("chair-20-sd-bar"))
        query = reference_frames("chair-19-sd-bar")
        (hit,) = match_video(query, build_frame_index(), interval=1 / 30)
        q, c = compare(query, reference_frames("chair-20-sd-bar"))
        assert hit.entry_id == entry.pk
        assert (hit.query_percent, hit.compared_percent) == (round(q, 2), round(c, 2))

    def test_segments_say_which_times_matched(self):
        bank = video_bank()
        add_video(bank, reference_frames("chair-19-sd-bar")[100:250])
        query = reference_frames("chair-19-sd-bar")
        (hit,) = match_video(query, build_frame_index(), interval=1 / 30)
        first = hit.segments[0]
        assert first["start"] <= 100 / 30 + 0.5 and hit.segments[-1]["end"] >= 249 / 30 - 0.5
        assert first["entry_start"] >= 0


def random_pdq(rng) -> str:
    return f"{rng.getrandbits(256):064x}"


def near(rng, pdq: str, bits: int) -> str:
    value = int(pdq, 16)
    for b in rng.sample(range(256), bits):
        value ^= 1 << b
    return f"{value:064x}"


def random_video(rng, n, base=None, noise=8, low_quality=0.1) -> list[FrameHash]:
    frames = []
    for i in range(n):
        pdq = near(rng, rng.choice(base).pdq, rng.randint(0, noise)) if base else random_pdq(rng)
        quality = rng.randint(0, 49) if rng.random() < low_quality else rng.randint(50, 100)
        frames.append(FrameHash(i, float(i), quality, pdq))
    if base is None and n > 3:
        frames.append(frames[1])  # a repeated frame: counted once
    return frames


@pytest.mark.django_db
class TestExactAgainstBruteForce:
    @pytest.mark.parametrize("seed", [1, 2])
    def test_every_bank_s_own_settings_give_the_reference_s_answer(self, seed, settings):
        rng = random.Random(seed)
        banks = [
            video_bank("strict", thresholds={"vpdq": 20}, vpdq_compared_percent=90),
            video_bank("loose", thresholds={"vpdq": 40}, vpdq_quality=30, vpdq_compared_percent=30),
            video_bank("both-ways", vpdq_query_percent=60, vpdq_compared_percent=60),
        ]
        videos = [random_video(rng, rng.randint(5, 40)) for _ in range(30)]
        stored: dict[int, tuple[HashBank, list[FrameHash]]] = {}
        for i, frames in enumerate(videos):
            bank = banks[i % 3]
            stored[add_video(bank, frames).pk] = (bank, frames)
        index = build_frame_index()
        queries = [random_video(rng, 30, base=rng.choice(videos), noise=40) for _ in range(40)]
        queries += [random_video(rng, 25) for _ in range(5)]
        for query in queries:
            got = {
                h.entry_id: (h.query_percent, h.compared_percent)
                for h in match_video(query, index, interval=1.0)
            }
            expected = {}
            for pk, (bank, frames) in stored.items():
                percents = compare(
                    query, frames, distance=bank.threshold("vpdq"), quality=bank.vpdq_quality
                )
                if is_match(
                    percents,
                    query_percent=bank.vpdq_query_percent,
                    compared_percent=bank.vpdq_compared_percent,
                ):
                    expected[pk] = (round(percents[0], 2), round(percents[1], 2))
            assert got == expected

    def test_the_multi_index_path_is_exact_too(self):
        # Over 20,000 frames the index finds candidates by multi-index hashing.
        rng = random.Random(7)
        bank = video_bank()
        videos = [random_video(rng, 60, low_quality=0) for _ in range(400)]
        lines = "\n".join(f"vpdq {to_signal(v)}" for v in videos)
        bank_import(bank=bank, text=lines)
        index = build_frame_index()
        assert len(index) > 20_000 and index.parts[0].multi_index is not None
        ids = list(BankEntry.objects.filter(bank=bank).order_by("pk").values_list("pk", flat=True))
        matched = 0
        for source in rng.sample(range(400), 10):
            # A re-encode: every frame a few bits off (some by more than the distance).
            query = [
                FrameHash(f.frame, f.timestamp, f.quality, near(rng, f.pdq, rng.randint(0, 36)))
                for f in videos[source]
            ]
            got = {h.entry_id for h in match_video(query, index, interval=1.0)}
            expected = {
                pk for pk, v in zip(ids, videos, strict=True) if is_match(compare(query, v))
            }
            assert got == expected
            assert ids[source] in got or not is_match(compare(query, videos[source]))
            matched += ids[source] in got
        assert matched >= 5


@pytest.mark.django_db
class TestFramesAndImages:
    def test_a_known_still_inside_a_video_matches_an_image_entry(self):
        bank = video_bank("stills")
        frame = vigil_every_frame("chair-19-sd-bar").frames[300]
        bank_import(bank=bank, text=f"pdq {frame.pdq}")
        frames = vigil_every_frame("chair-19-sd-bar").frames[::30]
        (hit,) = [h for h in find_video_matches(frames, interval=1.0) if h.signal_type == "pdq"]
        assert hit.distance <= 31
        assert any(s["start"] <= 10.0 <= s["end"] + 1.0 for s in hit.segments)

    def test_an_image_of_a_known_video_s_frame_matches_the_video_entry(self):
        from reports.hashing import perceptual_hashes
        from tests.testdata import frame_png

        bank = video_bank()
        entry = add_video(bank, reference_frames("doorknob-hd-no-bar"))
        still = perceptual_hashes(frame_png("doorknob-hd-no-bar", 15))
        hits = [h for h in find_image_matches(still) if h.signal_type == "vpdq"]
        assert [h.entry_id for h in hits] == [entry.pk]
        assert hits[0].segments[0]["entry_start"] <= 0.5 <= hits[0].segments[0]["entry_end"] + 1

    def test_low_quality_frames_never_match_an_image_entry(self):
        bank = video_bank("stills")
        dark = [f for f in vigil_every_frame("doorknob-hd-no-bar").frames if f.quality == 0][0]
        bank_import(bank=bank, text=f"pdq {dark.pdq}")
        frames = vigil_every_frame("doorknob-hd-no-bar").frames
        assert not [
            h for h in find_video_matches(frames, interval=1 / 30) if h.signal_type == "pdq"
        ]


@pytest.mark.django_db
class TestThroughTheHashingJob:
    def submit(self, submit_report, name="chair-19-sd-bar"):
        from reports.media import inspect_media

        data = (VPDQ / "videos" / f"{name}.mp4").read_bytes()
        return submit_report(images=[inspect_media(data, filename=f"{name}.mp4")])

    def test_a_video_matching_a_bank_video_is_recorded_and_acted_on(self, submit_report, settings):
        from moderation.banks.models import Match
        from reports.jobs import hash_media

        # Another cut of the same scene: matched as the reference matches it, every frame.
        settings.VPDQ_SECONDS_PER_HASH = 0
        bank = video_bank()
        entry = add_video(bank, reference_frames("chair-20-sd-bar"))
        report = self.submit(submit_report)
        priority_before = report.case.priority
        hash_media(report.media.get().pk)
        match = Match.objects.get(signal_type="vpdq")
        assert match.entry_id == entry.pk
        assert match.compared_percent >= 80 and match.query_percent > 0
        assert match.segments and match.segments[0]["start"] == 0.0
        report.case.refresh_from_db()
        assert report.case.priority > priority_before  # the bank's policy: raise priority

    def test_a_bank_video_added_later_matches_videos_received_before(self, submit_report):
        from moderation.banks.models import Match
        from reports.jobs import hash_media

        report = self.submit(submit_report)
        hash_media(report.media.get().pk)
        assert not Match.objects.exists()
        # The same video as the 2022 reference hashed it, one frame a second.
        entry = add_video(video_bank(), reference_frames("chair-19-sd-bar")[::30])
        assert bank_rematch(bank_id=entry.bank_id, added_at=entry.added_at.isoformat()) == 1
        match = Match.objects.get(media=report.media.get())
        assert match.entry_id == entry.pk and match.compared_percent >= 80

    def test_an_image_received_before_matches_a_bank_video_added_later(self, submit_report):
        from moderation.banks.models import Match
        from reports.jobs import hash_media
        from reports.media import inspect_media
        from tests.testdata import frame_png

        still = frame_png("doorknob-hd-no-bar", 15)
        report = submit_report(images=[inspect_media(still, filename="still.png")])
        hash_media(report.media.get().pk)
        entry = add_video(video_bank(), reference_frames("doorknob-hd-no-bar"))
        assert bank_rematch(bank_id=entry.bank_id, added_at=entry.added_at.isoformat()) == 1
        match = Match.objects.get(media=report.media.get())
        assert (match.entry_id, match.signal_type) == (entry.pk, "vpdq")


def test_a_segment_ends_where_its_last_matched_frame_s_interval_ends():
    from moderation.banks.video_matching import segments

    # Samples at 0..4 s, one a second: the video is matched to its end (5 s), not to 4 s.
    [whole] = segments([(t, t + 10) for t in (0.0, 1.0, 2.0, 3.0, 4.0)], interval=1.0)
    assert whole == {"start": 0.0, "end": 5.0, "entry_start": 10.0, "entry_end": 14.0}
    # A gap longer than the segment gap splits the ranges.
    first, second = segments([(0.0, 0.0), (1.0, 1.0), (30.0, 5.0)], interval=1.0)
    assert (first["end"], second["start"], second["end"]) == (2.0, 30.0, 31.0)
