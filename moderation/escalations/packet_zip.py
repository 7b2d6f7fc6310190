"""Writing an escalation packet: a deterministic zip, streamed, hashed as it is written.

Deterministic, so that a retry after a worker died produces the very same packet (same manifest,
same SHA-256): entries in a fixed order, every entry stored (not compressed: the evidence is
already-compressed images, and stored entries do not depend on a zlib version), with a fixed time
(the approval's) and fixed permissions (0644, Unix).

Streamed, so that memory stays bounded however large the evidence: the zip is written through a
sink that cannot seek, so zipfile writes each entry's sizes and CRC after its data (a data
descriptor) instead of seeking back; every byte of the packet then passes exactly once, in order,
through the packet's SHA-256. Evidence is copied in chunks and its own SHA-256 checked on the way.
A long text made a piece at a time (a conversation's transcript) is spooled to a temporary file
first, since an entry's size must be known before it is written (add_spooled).
"""

import contextlib
import ctypes
import hashlib
import io
import json
import queue
import sys
import tempfile
import threading
import zipfile
from datetime import datetime

CHUNK_BYTES = 1024 * 1024
# Evidence chunks in flight at once (read, not yet hashed by both threads): memory stays at
# RING * CHUNK_BYTES however large the evidence, and the reads never wait on the hashes per file.
RING = 8
# Writeback of the packet is started every WRITEBACK_BYTES written (see _start_writeback).
WRITEBACK_BYTES = 16 * 1024 * 1024
MODE = 0o100644  # a regular file, rw-r--r--
UNIX = 3


class EvidenceMismatch(Exception):
    """An evidence file's bytes are not the ones that were hashed when it arrived."""

    def __init__(self, name: str, expected: str, found: str, size: int):
        super().__init__(f"{name}: expected SHA-256 {expected}, found {found}")
        self.name, self.expected, self.found, self.size = name, expected, found, size


class _HashingThread:
    """SHA-256 updates done on a thread of their own, in the order given, while the caller's
    thread reads, CRCs and writes (hashlib releases the GIL on large updates). Every byte is
    hashed twice — the evidence check and the packet's own hash — which would otherwise double
    the time. Updates are numbered: `wait(n)` returns once the n-th is done, so a buffer handed
    over can be reused (see _Ring: it bounds what is queued)."""

    def __init__(self):
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._done_cond = threading.Condition()
        self.queued = self.done = 0
        self._thread = threading.Thread(target=self._run, name="packet-sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            hasher, data = item
            hasher.update(data)
            with self._done_cond:
                self.done += 1
                self._done_cond.notify()

    def update(self, hasher, data) -> None:
        """`data` must stay unchanged until this update is done (bytes, or a _Ring buffer)."""
        self.queued += 1
        self._queue.put((hasher, data))

    def wait(self, upto: int | None = None) -> None:
        """Until the `upto`-th update (by default every update queued so far) is done."""
        upto = self.queued if upto is None else upto
        with self._done_cond:
            self._done_cond.wait_for(lambda: self.done >= upto)

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join()


class _Ring:
    """RING reusable chunk buffers: evidence is read into them (no allocation per chunk) and
    handed to the hashing threads as they are; a buffer is reused only once every thread has
    hashed what it last held."""

    def __init__(self, threads: tuple[_HashingThread, ...]):
        self._buffers = [memoryview(bytearray(CHUNK_BYTES)) for _ in range(RING)]
        self._marks: list[tuple[int, ...]] = [(0,) * len(threads)] * RING
        self._threads = threads
        self._next = 0

    def take(self) -> memoryview:
        n = self._next
        for thread, upto in zip(self._threads, self._marks[n], strict=True):
            thread.wait(upto)
        return self._buffers[n]

    def handed_over(self) -> None:
        """The buffer last taken is queued on the threads: not to be reused before they are done."""
        self._marks[self._next] = tuple(thread.queued for thread in self._threads)
        self._next = (self._next + 1) % RING


def _sync_file_range():
    """Linux's sync_file_range(2), which Python's os module does not have; None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_SYNC_FILE_RANGE = _sync_file_range()
SYNC_FILE_RANGE_WRITE = 2


def _start_writeback(fd: int, offset: int, length: int) -> None:
    """Ask the kernel to start writing this range to disk now, without waiting for it (as
    PostgreSQL does with its *_flush_after settings). The packet is fsynced before it is moved
    into place, and that fsync would otherwise write all of it at the end, after the copying,
    while the disk had been idle all along; started early, the writeback runs beside the hashing
    and the fsync has only the last chunks left to wait for. Only a hint: durability is still
    the fsync's, so failures are ignored."""
    if _SYNC_FILE_RANGE is not None:
        _SYNC_FILE_RANGE(fd, offset, length, SYNC_FILE_RANGE_WRITE)


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
        try:
            self._fd: int | None = fp.fileno()
        except (AttributeError, io.UnsupportedOperation):
            self._fd = None  # not a file (a test's buffer): nothing to write back
        self._written_back = 0

    def write(self, data) -> int:
        if self.discarding:
            return len(data)
        self.fp.write(data)
        self._hashing.update(self.sha256, data)
        self.size += len(data)
        if self._fd is not None and self.size - self._written_back >= WRITEBACK_BYTES:
            # Bytes still in fp's buffer are not in the range yet: the next call or the fsync.
            _start_writeback(self._fd, self._written_back, self.size - self._written_back)
            self._written_back = self.size
        return len(data)

    def flush(self) -> None:
        self.fp.flush()


class _EvidenceEntry:
    """Where copy_chunks writes an evidence file: the zip entry, with chunk buffers from the ring."""

    def __init__(self, entry, ring: _Ring):
        self._entry, self._ring = entry, ring

    def buffer(self) -> memoryview:
        return self._ring.take()

    def write(self, data) -> None:
        self._entry.write(data)

    def handed_over(self) -> None:
        self._ring.handed_over()


def copy_chunks(source, target: _EvidenceEntry, hasher) -> int:
    """Copy `source` to `target` a chunk at a time, hashing on the way. Returns the bytes copied.
    (Its own function so that tests can make a worker "die" in the middle of a copy.)"""
    copied = 0
    while True:
        buffer = target.buffer()
        if not (n := source.readinto(buffer)):
            return copied
        chunk = buffer[:n]
        target.write(chunk)  # CRC-32 and write here; the packet's SHA-256 on its thread
        hasher.update(chunk)  # the evidence check's SHA-256 on the other
        target.handed_over()
        copied += n


class PacketWriter:
    """Usage: `with PacketWriter(fp, when=approved_at) as w: w.add_bytes(...); w.add_evidence(...)`
    then `w.sha256`, `w.size`, `w.entries` ({name: (sha256, size)} of every entry written)."""

    def __init__(self, fp, *, when: datetime):
        # One thread per hash, so that on two or more cores both run beside the copying.
        self._hashing = _HashingThread()
        self._packet_hashing = _HashingThread()
        self._ring = _Ring((self._hashing, self._packet_hashing))
        self._sink = _HashingSink(fp, self._packet_hashing)
        # The zip format has no time zone and starts in 1980; the caller passes UTC.
        self._date_time = max(when.timetuple()[:6], (1980, 1, 1, 0, 0, 0))
        self._zip = zipfile.ZipFile(self._sink, "w", compression=zipfile.ZIP_STORED)
        self._entries: dict[str, tuple[str, int]] = {}
        # Evidence copied whose check is still running: (name, hasher, expected, copied, size,
        # the hashing thread's update that finishes it). Checked as the hashes come in, never
        # later than the next add_bytes, `entries` or close.
        self._unchecked: list[tuple] = []
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

    @property
    def entries(self) -> dict[str, tuple[str, int]]:
        """{name: (sha256, size)} of every entry written, the evidence checked."""
        self.check_evidence()
        return self._entries

    def _info(self, name: str, size: int) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=self._date_time)
        info.compress_type = zipfile.ZIP_STORED
        info.create_system = UNIX
        info.external_attr = MODE << 16
        # Known before writing, so zipfile's choice of zip64 headers is the same on every run.
        info.file_size = size
        return info

    def add_bytes(self, name: str, data: bytes) -> str:
        self.check_evidence()
        with self._zip.open(self._info(name, len(data)), "w") as entry:
            entry.write(data)
        digest = hashlib.sha256(data).hexdigest()
        self._entries[name] = (digest, len(data))
        return digest

    def add_json(self, name: str, value) -> str:
        text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        return self.add_bytes(name, text.encode())

    def add_spooled(self, name: str, pieces) -> str:
        """An entry made of `pieces` (bytes, a few at a time: a conversation's transcript),
        spooled to a temporary file on disk so that memory holds one piece at a time, then
        copied in like evidence. Returns its SHA-256."""
        hasher = hashlib.sha256()
        with tempfile.TemporaryFile() as spool:
            for piece in pieces:
                spool.write(piece)
                hasher.update(piece)
            size = spool.tell()
            spool.seek(0)
            digest = hasher.hexdigest()
            self.add_evidence(name, spool, size=size, sha256=digest)
            self.check_evidence()  # the spool is read before it goes
        return digest

    def add_evidence(self, name: str, source, *, size: int, sha256: str) -> None:
        """Copy an evidence file in, to be checked against the SHA-256 it had on arrival as soon
        as its hash is done (without stopping the copying of the next file meanwhile). Raises
        EvidenceMismatch for this file or an earlier one (the caller discards the packet)."""
        hasher = hashlib.sha256()
        with self._zip.open(self._info(name, size), "w") as entry:
            copied = copy_chunks(
                source, _EvidenceEntry(entry, self._ring), _Deferred(self._hashing, hasher)
            )
        self._entries[name] = (sha256, copied)
        self._unchecked.append((name, hasher, sha256, copied, size, self._hashing.queued))
        self.check_evidence(wait=False)

    def check_evidence(self, *, wait: bool = True) -> None:
        """Compare the hashes of the evidence copied so far (those finished, unless `wait`) with
        the expected ones. Raises EvidenceMismatch naming the first file that differs."""
        while self._unchecked:
            name, hasher, expected, copied, size, upto = self._unchecked[0]
            if not wait and self._hashing.done < upto:
                return
            self._hashing.wait(upto)
            del self._unchecked[0]
            found = hasher.hexdigest()
            if found != expected or copied != size:
                raise EvidenceMismatch(name, expected, found, copied)

    def close(self) -> None:
        self.check_evidence()
        self._zip.close()
        self._sink.flush()
        self._hashing.stop()
        self._packet_hashing.stop()
        self.sha256 = self._sink.sha256.hexdigest()
        self.size = self._sink.size
