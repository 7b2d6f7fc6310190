"""The demo's videos (seed_demo): short clips of coloured shapes moving over a textured
background, drawn here and encoded with PyAV (the FFmpeg in its wheels) — never real material.

A clip is drawn from a seed alone, so the same seed gives the same pictures; a background full of
edges gives PDQ high-quality frames, and the shapes move far enough between sampled frames for
each to hash differently. Five seconds at 320x240 and 12 fps: about 100 KB and a tenth of a
second of CPU each (one encoder thread and one converter per clip: starting more costs more).
"""

import io
import random
from fractions import Fraction

import av
import numpy as np
from av.video.reformatter import VideoReformatter
from PIL import Image, ImageDraw

SIZE = (320, 240)
FPS = 12
SECONDS = 5


def _background(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    """Shapes on a plain colour, as demo_image draws them, over a coarse chequer of tints."""
    width, height = size
    base = np.array([rng.randrange(40, 220) for _ in range(3)], dtype=np.int16)
    tint = np.array([rng.randrange(-40, 41) for _ in range(3)], dtype=np.int16)
    y, x = np.mgrid[0:height, 0:width]
    cell = rng.choice([16, 20, 24])
    chequer = ((x // cell + y // cell) % 2)[..., None]
    image = Image.fromarray(np.clip(base + chequer * tint, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x0, y0 = rng.randrange(0, width - 60), rng.randrange(0, height - 60)
        x1, y1 = x0 + rng.randrange(20, 120), y0 + rng.randrange(20, 100)
        colour = tuple(rng.randrange(0, 256) for _ in range(3))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        else:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
    return image


def demo_frames(seed: int, label: str, *, seconds: int = SECONDS, fps: int = FPS):
    """The clip's pictures (PIL images, SIZE), one per frame: three shapes crossing the
    background on straight paths that bounce off its edges, and a bar of colour sweeping down."""
    rng = random.Random(seed)
    width, height = SIZE
    background = _background(rng, SIZE)
    movers = []
    for _ in range(3):
        side = rng.randrange(40, 80)
        movers.append(
            {
                "side": side,
                "x": rng.uniform(0, width - side),
                "y": rng.uniform(0, height - side),
                # Pixels a second: far enough that frames a second apart hash apart.
                "dx": rng.choice([-1, 1]) * rng.uniform(70, 140),
                "dy": rng.choice([-1, 1]) * rng.uniform(50, 110),
                "colour": tuple(rng.randrange(0, 256) for _ in range(3)),
                "round": rng.random() < 0.5,
            }
        )
    bar = tuple(rng.randrange(0, 256) for _ in range(3))
    for n in range(seconds * fps):
        t = n / fps
        image = background.copy()
        draw = ImageDraw.Draw(image)
        top = int((t * 50) % height)
        draw.rectangle((0, top, width, top + 14), fill=bar)
        for m in movers:
            x = _bounce(m["x"] + m["dx"] * t, width - m["side"])
            y = _bounce(m["y"] + m["dy"] * t, height - m["side"])
            box = (x, y, x + m["side"], y + m["side"])
            (draw.ellipse if m["round"] else draw.rectangle)(box, fill=m["colour"])
        draw.text((10, height - 20), f"VIGIL DEMO VIDEO {label}", fill=(255, 255, 255))
        yield image


def _bounce(position: float, span: float) -> int:
    """A position moving freely, folded back into 0..span as if it bounced off the ends."""
    position %= 2 * span
    return int(position if position <= span else 2 * span - position)


def encode(
    frames, *, fmt: str = "mp4", size: tuple[int, int] = SIZE, crf: int = 23, fps: int = FPS
) -> bytes:
    """The pictures as a file: H.264 in MP4, or VP9 in WebM; scaled to `size` if it differs."""
    out = io.BytesIO()
    codec, options = (
        ("libx264", {"crf": str(crf), "preset": "superfast"})
        if fmt == "mp4"
        else ("libvpx-vp9", {"crf": str(crf), "b": "0", "deadline": "realtime", "cpu-used": "8"})
    )
    with av.open(out, "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=fps, options=options)
        stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
        stream.codec_context.time_base = Fraction(1, fps)
        stream.codec_context.thread_count = 1
        # A frame's own reformat would make a converter, with threads, for every frame.
        reformatter = VideoReformatter()
        for n, picture in enumerate(frames):
            frame = av.VideoFrame.from_image(picture)
            frame = reformatter.reformat(
                frame, width=size[0], height=size[1], format="yuv420p", threads=1
            )
            frame.pts = n
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return out.getvalue()


def reencode(data: bytes, *, size: tuple[int, int], crf: int) -> bytes:
    """A copy of an MP4 as a platform would re-encode it: decoded, scaled, encoded again."""
    with av.open(io.BytesIO(data)) as source:
        stream = source.streams.video[0]
        fps = int(stream.average_rate or FPS)
        stream.codec_context.thread_count = 1
        reformatter = VideoReformatter()
        pictures = [
            reformatter.reformat(frame, format="rgb24", threads=1).to_image()
            for frame in source.decode(stream)
        ]
    return encode(pictures, size=size, crf=crf, fps=fps)
