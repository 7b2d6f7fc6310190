"""Writing an escalation packet: a deterministic zip, streamed, hashed as it is written.

Deterministic, so that a retry after a worker died produces the very same packet (same manifest,
same SHA-256): entries in a fixed order, every entry stored (not compressed: the evidence is
already-compressed images, and stored entries do not depend on a zlib version), with a fixed time
(the approval's) and fixed permissions (0644, Unix).

Streamed, so that memory stays bounded however large the evidence: the zip is written through a
sink that cannot seek, so zipfile writes each entry's sizes and CRC after its data (a data
descriptor) instead of seeking back; every byte of the packet then passes exactly once, in order,
through the packet's SHA-256. Evidence is copied in chunks and its own SHA-256 checked on the way.
"""

import contextlib
import hashlib
import json
import queue
import threading
import zipfile
from datetime import datetime

CHUNK_BYTES = 1024 * 1024
MODE = 0o100644  # a regular file, rw-r--r--
UNIX = 3


class EvidenceMismatch(Exception):
    """An evidence file's bytes are not the ones that were hashed when it arrived."""

    def __init__(self, expected: str, found: str, size: int):
        super().__init__(f"expected SHA-256 {expected}, found {found}")
        self.expected, self.found, self.size = expected, found, size


class _HashingThread:
    """SHA-256 updates done on a thread of their own, in the order given, while the caller's
    thread reads, CRCs and writes (hashlib releases the GIL on large updates). Every byte is
    hashed twice — the evidence check and the packet's own hash — which would otherwise double
    the time. The queue is bounded: at most QUEUED chunks are held in memory."""

    QUEUED = 8

    def __init__(self):
        self._queue: queue.Queue = queue.Queue(maxsize=self.QUEUED)
        self._thread = threading.Thread(target=self._run, name="packet-sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            hasher, data = item
            hasher.update(data)
            self._queue.task_done()
        self._queue.task_done()

    def update(self, hasher, data) -> None:
        # Only immutable bytes are queued: the caller may reuse its buffer once this returns.
        self._queue.put((hasher, data if isinstance(data, bytes) else bytes(data)))

    def wait(self) -> None:
        """Until every update queued so far is done."""
        self._queue.join()

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join()


class _Deferred:
    """A hasher whose updates run on the hashing thread (read it after `_HashingThread.wait`)."""

    def __init__(self, hashing: _HashingThread, hasher):
        self._hashing, self.hasher = hashing, hasher

    def update(self, data) -> None:
        self._hashing.update(self.hasher, data)


class _HashingSink:
    """Write-only and not seekable (no tell/seek): zipfile streams data descriptors through it,
    and every byte goes, in order, through the packet's SHA-256 (on the hashing thread)."""

    def __init__(self, fp, hashing: _HashingThread):
        self.fp = fp
        self.size = 0
        self.discarding = False
        self.sha256 = hashlib.sha256()
        self._hashing = hashing

    def write(self, data) -> int:
        if self.discarding:
            return len(data)
        self.fp.write(data)
        self._hashing.update(self.sha256, data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        self.fp.flush()


def copy_chunks(source, target, hasher) -> int:
    """Copy `source` to `target` a chunk at a time, hashing on the way. Returns the bytes copied.
    (Its own function so that tests can make a worker "die" in the middle of a copy.)"""
    copied = 0
    while chunk := source.read(CHUNK_BYTES):
        target.write(chunk)
        hasher.update(chunk)
        copied += len(chunk)
    return copied


class PacketWriter:
    """Usage: `with PacketWriter(fp, when=approved_at) as w: w.add_bytes(...); w.add_evidence(...)`
    then `w.sha256`, `w.size`, `w.entries` ({name: (sha256, size)} of every entry written)."""

    def __init__(self, fp, *, when: datetime):
        # One thread per hash, so that on two or more cores both run beside the copying.
        self._hashing = _HashingThread()
        self._packet_hashing = _HashingThread()
        self._sink = _HashingSink(fp, self._packet_hashing)
        # The zip format has no time zone and starts in 1980; the caller passes UTC.
        self._date_time = max(when.timetuple()[:6], (1980, 1, 1, 0, 0, 0))
        self._zip = zipfile.ZipFile(self._sink, "w", compression=zipfile.ZIP_STORED)
        self.entries: dict[str, tuple[str, int]] = {}
        self.sha256 = ""
        self.size = 0

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        if exc_type is None:
            self.close()
        else:
            # The caller throws the partial file away: let zipfile tidy up without writing to it
            # (or it would try again when collected, after the file is closed).
            self._sink.discarding = True
            with contextlib.suppress(Exception):
                self._zip.close()
            self._hashing.stop()
            self._packet_hashing.stop()
        return False

    def _info(self, name: str, size: int) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=self._date_time)
        info.compress_type = zipfile.ZIP_STORED
        info.create_system = UNIX
        info.external_attr = MODE << 16
        # Known before writing, so zipfile's choice of zip64 headers is the same on every run.
        info.file_size = size
        return info

    def add_bytes(self, name: str, data: bytes) -> str:
        with self._zip.open(self._info(name, len(data)), "w") as entry:
            entry.write(data)
        digest = hashlib.sha256(data).hexdigest()
        self.entries[name] = (digest, len(data))
        return digest

    def add_json(self, name: str, value) -> str:
        text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        return self.add_bytes(name, text.encode())

    def add_evidence(self, name: str, source, *, size: int, sha256: str) -> None:
        """Copy an evidence file in, checking it is the file that was hashed on arrival.
        Raises EvidenceMismatch (the caller discards the whole packet)."""
        hasher = hashlib.sha256()
        with self._zip.open(self._info(name, size), "w") as entry:
            copied = copy_chunks(source, entry, _Deferred(self._hashing, hasher))
        self._hashing.wait()
        found = hasher.hexdigest()
        if found != sha256 or copied != size:
            raise EvidenceMismatch(sha256, found, copied)
        self.entries[name] = (found, copied)

    def close(self) -> None:
        self._zip.close()
        self._sink.flush()
        self._hashing.stop()
        self._packet_hashing.stop()
        self.sha256 = self._sink.sha256.hexdigest()
        self.size = self._sink.size
