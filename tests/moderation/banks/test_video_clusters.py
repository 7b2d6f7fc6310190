"""Video clusters: re-uploads, trims and re-encodes of one video fold into one cluster."""

import io
import random

import av
import pytest

from moderation.banks.clusters import forget_media_hashes, media_assign_video_cluster
from moderation.banks.models import Cluster
from reports.jobs import hash_media
from reports.media import inspect_media
from reports.models import Media
from reports.vpdq import FrameHash
from tests.testdata import VPDQ


def sample(name: str) -> bytes:
    return (VPDQ / "videos" / f"{name}.mp4").read_bytes()


def reencode(data: bytes, *, first: int = 0, last: int | None = None, width: int = 0) -> bytes:
    """Frames first..last of a video, re-encoded (another codec setting, optionally smaller):
    what a re-upload or a trim looks like."""
    out = io.BytesIO()
    with av.open(io.BytesIO(data)) as source, av.open(out, "w", format="mp4") as target:
        decoded = source.streams.video[0]
        stream = target.add_stream("libx264", rate=round(decoded.average_rate))
        stream.options = {"crf": "30", "preset": "veryfast"}
        scale = width / decoded.width if width else 1
        stream.width = int(decoded.width * scale) // 2 * 2
        stream.height = int(decoded.height * scale) // 2 * 2
        stream.pix_fmt = "yuv420p"
        kept = 0
        for n, frame in enumerate(source.decode(decoded)):
            if n < first:
                continue
            if last is not None and n > last:
                break
            # A fresh frame (the decoded one carries the source's time base).
            pixels = frame.to_ndarray(width=stream.width, height=stream.height, format="rgb24")
            picture = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            picture.pts, kept = kept, kept + 1
            target.mux(stream.encode(picture))
        target.mux(stream.encode())
    return out.getvalue()


def received(submit_report, data: bytes, name: str = "v.mp4") -> Media:
    report = submit_report(images=[inspect_media(data, filename=name)])
    media = report.media.get()
    hash_media(media.pk)
    return media


def clusters(*media: Media) -> list[int | None]:
    return [Media.objects.get(pk=m.pk).cluster_id for m in media]


@pytest.mark.django_db
class TestVideoClusters:
    def test_it_folds_a_re_encoded_copy_and_a_trim_and_leaves_another_video_out(
        self, submit_report
    ):
        original = sample("chair-19-sd-bar")
        first = received(submit_report, original)
        smaller = received(submit_report, reencode(original, width=240))
        trim = received(submit_report, reencode(original, first=90, last=240))
        other = received(submit_report, sample("doorknob-hd-no-bar"))
        ours = clusters(first, smaller, trim)
        assert ours[0] is not None and ours == [ours[0]] * 3
        assert clusters(other) == [None]
        assert Cluster.objects.count() == 1

    def test_an_exact_re_upload_joins_the_cluster(self, submit_report):
        data = sample("doorknob-hd-no-bar")
        a, b = received(submit_report, data), received(submit_report, data)
        assert clusters(a)[0] == clusters(b)[0] is not None

    def test_a_video_hashed_by_another_worker_is_seen(self, submit_report):
        a = received(submit_report, sample("chair-19-sd-bar"))
        forget_media_hashes()  # as a different process would start
        b = received(submit_report, reencode(sample("chair-19-sd-bar"), width=200))
        assert clusters(a)[0] == clusters(b)[0] is not None

    def test_a_still_of_a_video_does_not_join_its_cluster(self, submit_report):
        from tests.testdata import frame_png

        video = received(submit_report, sample("doorknob-hd-no-bar"))
        again = received(submit_report, sample("doorknob-hd-no-bar"))
        still = received(submit_report, frame_png("doorknob-hd-no-bar", 15), "still.png")
        ours = clusters(video, again, still)
        assert ours[0] == ours[1] is not None
        # A still is matched against bank videos' frames; clusters group copies of one medium.
        assert ours[2] is None


def frames(hexes: list[str], quality: int = 100) -> list[FrameHash]:
    return [FrameHash(n, float(n), quality, h) for n, h in enumerate(hexes)]


def pdq(n: int) -> str:
    # Random values: about 128 bits apart, far beyond the frame distance.
    return f"{random.Random(n).getrandbits(256):064x}"


@pytest.mark.django_db
class TestThePercentages:
    def store(self, submit_report, png_upload, hexes: list[str], quality: int = 100) -> Media:
        from django.db import transaction
        from django.utils import timezone

        from reports.models import VideoHash
        from reports.vpdq import frames_to_text

        media = submit_report(images=[png_upload()]).media.get()
        with transaction.atomic():
            Media.objects.filter(pk=media.pk).update(hashed_at=timezone.now())
            VideoHash.objects.create(
                media=media,
                seconds_per_hash=1,
                frames_decoded=len(hexes),
                frames=frames_to_text(frames(hexes, quality)),
            )
        return media

    def assign(self, media, hexes, quality=100):
        return media_assign_video_cluster(media=media, frames=frames(hexes, quality))

    def test_it_needs_four_fifths_of_either_video(self, submit_report, png_upload):
        values = [pdq(n) for n in range(1, 21)]
        self.store(submit_report, png_upload, values[:10])
        # 8 of the new video's 10 frames are base's: 80%.
        newcomer = self.store(submit_report, png_upload, values[2:10] + values[10:12])
        assert self.assign(newcomer, values[2:10] + values[10:12]) is not None
        # 7 of 10 either way: not a copy.
        stranger = self.store(submit_report, png_upload, values[3:10] + values[12:15])
        forget_media_hashes()
        assert self.assign(stranger, values[3:10] + values[12:15]) is None

    def test_repeated_and_low_quality_frames_do_not_count(self, submit_report, png_upload):
        values = [pdq(n) for n in range(1, 11)]
        base = self.store(submit_report, png_upload, values[:5])
        # Five distinct frames, all base's; repeats of one of them; dark frames below quality.
        query = values[:5] + [values[0]] * 20
        assert self.assign(self.store(submit_report, png_upload, query), query) is not None
        assert base.pk  # the cluster holds base
        dark = self.store(submit_report, png_upload, values[:5], quality=10)
        assert self.assign(dark, values[:5], quality=10) is None
