"""Videos as evidence: how a packet names, describes and lists a video and its vPDQ.

The CyberTipline's fileDetails has no element for a video's duration, codec or dimensions, nor
for a perceptual video hash: a video's fileDetails carries what every file's does (its MD5 and
SHA-256 as `originalFileHash`, fileViewedByEsp from the view log, ...) and one `additionalInfo`
sentence describing the video (`describe`). Its vPDQ (the PDQ of sampled frames, in the
reference tool's lines `frame,quality,pdq,timestamp`) goes into the packet beside it as
`vpdq/<n>.txt`, listed in the manifest and the summary: Vigil's packet, not the authority's XML.
"""

from reports.models import Media, VideoHash

# Names of the evidence files in the packet, by type (images in packet.py, videos here).
EXTENSIONS = {
    "video/mp4": "mp4",
    "video/quicktime": "mov",
    "video/webm": "webm",
    "video/x-matroska": "mkv",
    "video/x-msvideo": "avi",
}
CONTAINERS = {
    "mp4": "MP4",
    "mov": "QuickTime (MOV)",
    "webm": "WebM",
    "matroska": "Matroska (MKV)",
    "avi": "AVI",
}
# FFmpeg's decoder names, as people know the codecs.
CODECS = {
    "h264": "H.264",
    "hevc": "H.265 (HEVC)",
    "vp8": "VP8",
    "vp9": "VP9",
    "av1": "AV1",
    "mpeg4": "MPEG-4 Part 2",
    "mpeg2video": "MPEG-2",
    "mpeg1video": "MPEG-1",
    "mjpeg": "Motion JPEG",
    "prores": "ProRes",
    "theora": "Theora",
    "rawvideo": "uncompressed",
}
VPDQ_FORMAT = "vPDQ, one line per hashed frame: frame,quality,pdq,timestamp (seconds)"


def vpdq_name(file_name: str) -> str:
    """Where a video's vPDQ goes in the packet: files/0002-<sha>.mp4 -> vpdq/0002.txt."""
    return f"vpdq/{file_name.removeprefix('files/').split('-', 1)[0]}.txt"


def video_hashes(media_ids) -> dict[int, VideoHash]:
    """The vPDQ of each of these media that has one (videos hashed), in one query."""
    return {v.media_id: v for v in VideoHash.objects.filter(media_id__in=list(media_ids))}


def frame_count(video_hash: VideoHash) -> int:
    return video_hash.frames.count("\n")


def _seconds(value: float) -> str:
    text = f"{value:.1f} seconds"
    if value >= 60:
        whole = round(value)
        text += f" ({whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d})"
    return text


def describe(media: Media) -> str:
    """One sentence for people: "Video: MP4, H.264, 1280 x 720 pixels, 12.4 seconds at 30
    frames a second." What is unknown is left out."""
    parts = []
    if media.container:
        parts.append(CONTAINERS.get(media.container, media.container.upper()))
    if media.codec:
        parts.append(CODECS.get(media.codec, media.codec))
    if media.width and media.height:
        parts.append(f"{media.width} x {media.height} pixels")
    if media.duration is not None:
        length = _seconds(media.duration)
        if media.frame_rate:
            length += f" at {media.frame_rate:g} frames a second"
        parts.append(length)
    text = "Video: " + (", ".join(parts) if parts else "format unknown") + "."
    if media.rotation:
        text += f" A player turns the picture {media.rotation} degrees clockwise."
    return text


def facts(media: Media, video_hash: VideoHash | None, file_name: str) -> dict:
    """A video's entry in summary.json, beyond what every file has."""
    return {
        "container": media.container,
        "codec": media.codec,
        "duration_seconds": media.duration,
        "frame_rate": media.frame_rate,
        "rotation_degrees_clockwise": media.rotation,
        "description": describe(media),
        "vpdq": None
        if video_hash is None
        else {
            "file": vpdq_name(file_name),
            "format": VPDQ_FORMAT,
            "frames": frame_count(video_hash),
            "seconds_per_hash": video_hash.seconds_per_hash,
            # Why hashing stopped before the end of the file (damage, a limit), or "".
            "stopped": video_hash.stopped,
        },
    }
