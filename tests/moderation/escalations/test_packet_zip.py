"""The packet writer on its own: evidence streamed through reused chunk buffers, each file checked
against its SHA-256 as the hashes come in, the packet hashed as written."""

import hashlib
import io
import os
import zipfile
from datetime import UTC, datetime

import pytest

from moderation.escalations import packet_zip
from moderation.escalations.packet_zip import EvidenceMismatch, PacketWriter

WHEN = datetime(2026, 11, 22, 4, 30, tzinfo=UTC)


@pytest.fixture
def small_chunks(monkeypatch):
    # Many chunks per file, so the ring of buffers wraps round many times within one file.
    monkeypatch.setattr(packet_zip, "CHUNK_BYTES", 1000)


def evidence(n: int, size: int = 100_003) -> bytes:
    return hashlib.sha256(str(n).encode()).digest() * (size // 32) + os.urandom(size % 32)


def write(files: dict[str, bytes], *, wrong: str = "") -> tuple[bytes, PacketWriter]:
    out = io.BytesIO()
    with PacketWriter(out, when=WHEN) as packet:
        packet.add_bytes("report.xml", b"<report/>")
        for name, data in files.items():
            expected = "0" * 64 if name == wrong else hashlib.sha256(data).hexdigest()
            packet.add_evidence(name, io.BytesIO(data), size=len(data), sha256=expected)
        packet.add_json("manifest.json", {"files": sorted(packet.entries)})
    return out.getvalue(), packet


def test_it_copies_every_byte_through_reused_buffers(small_chunks):
    files = {f"files/{n:04d}.png": evidence(n) for n in range(5)}
    data, packet = write(files)
    assert packet.sha256 == hashlib.sha256(data).hexdigest() and packet.size == len(data)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.testzip() is None  # every CRC-32 right
        for name, content in files.items():
            assert z.read(name) == content
            assert packet.entries[name] == (hashlib.sha256(content).hexdigest(), len(content))


def test_the_same_input_gives_the_same_bytes(small_chunks):
    files = {f"files/{n:04d}.png": evidence(n, 5000) for n in range(3)}
    assert write(files)[0] == write(files)[0]


@pytest.mark.parametrize("wrong", ["files/0000.png", "files/0002.png", "files/0004.png"])
def test_a_file_that_does_not_match_is_named_however_late_its_check_ends(small_chunks, wrong):
    files = {f"files/{n:04d}.png": evidence(n) for n in range(5)}
    with pytest.raises(EvidenceMismatch) as raised:
        write(files, wrong=wrong)
    assert raised.value.name == wrong
    assert raised.value.found == hashlib.sha256(files[wrong]).hexdigest()
