"""The durable local journal: an append-only file of tracking events per process.

Shaped like a database's write-ahead log. Each record is a 4-byte length, a
4-byte CRC-32 of the payload, and the payload (one event as JSON, or an array of
events recorded together, whose offset is the record's end). The file is
allocated ahead in chunks (``posix_fallocate``, so a full disk is an error when
a chunk is taken, never a fault while a record is copied) and mapped into
memory: appending a record is a copy into the operating system's page cache,
with no system call and without letting go of the GIL (a ``write`` per event
handed the GIL to the writer thread and cost the caller ~20 µs each time). What
a process recorded is in the page cache, so it survives the process (SIGKILL
included); the writer ``msync``s the file when a run ends and on an interval, so
it survives the machine too. The bytes past the last record are zeros: a zero
length is the end. A record cut short by a crash (a torn tail) fails its length
or checksum: the reader stops there and says so.

Beside each journal, ``<name>.applied`` holds how far the store has applied it
(8 bytes), so a replay starts where the writer stopped. A live process holds an
exclusive ``flock`` on its journal: a journal nobody holds belongs to a process
that is gone, and whoever takes its lock replays it (so two replayers never race).

Journals live in one folder per store (a hash of the store URI) under the
configured journal folder, created owner-only.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import mmap
import os
import socket
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from . import collector, json_text
from .events import DEFINE, Event
from .files import make_dirs

_HEADER = struct.Struct(">II")
_OFFSET = struct.Struct(">Q")
SUFFIX = ".journal"
APPLIED = ".applied"
# A record longer than this is taken for a corrupt length, not a real event.
MAX_RECORD = 256 * 1024 * 1024
# The journal is allocated this much at first, then doubled up to steps of MAX_CHUNK.
FIRST_CHUNK = 1024 * 1024
MAX_CHUNK = 64 * 1024 * 1024

# Set up once (it cost the caller a third of an event's encoding when set up per call).
_json = json_text.encoder(separators=(",", ":"))


def folder_for(root: Path, store_uri: str) -> Path:
    """The journal folder of one store: events are replayed only into the store they were meant for."""
    digest = hashlib.sha256(store_uri.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return Path(root).expanduser() / digest


def encode(*events: Event) -> bytes:
    """One journal record: length, CRC-32, and the event as JSON ``[kind, subject, seq, data]``;
    several events (what one hook of an orchestrator task records) as one array of them,
    read back all or none."""
    text = _json(events[0] if len(events) == 1 else events)  # a tuple encodes as the array
    payload = text.encode("utf-8", "surrogatepass")
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


class Journal:
    """This process's journal file, mapped for appending and locked."""

    def __init__(self, folder: Path):
        make_dirs(folder)
        name = f"{socket.gethostname()}-{os.getpid()}-{os.urandom(4).hex()}"
        self.path = folder / (name + SUFFIX)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.applied_fd = os.open(self.path.with_suffix(APPLIED), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self.end = 0
        self.applied = 0
        self.capacity = 0
        self.map: mmap.mmap | None = None
        self._allocate(FIRST_CHUNK)

    def _allocate(self, capacity: int) -> None:
        """Take ``capacity`` bytes on disk (zeros) and map them; OSError on a full disk."""
        os.posix_fallocate(self.fd, 0, capacity)
        mapped = mmap.mmap(self.fd, capacity, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        if self.map is not None:
            self.map.close()
        self.map, self.capacity = mapped, capacity

    def append(self, record: bytes) -> int:
        """Copy ``record`` past the last one; returns the offset just past it. The caller
        serializes appends."""
        end = self.end + len(record)
        if end > self.capacity:
            self._allocate(max(end, self.capacity + min(self.capacity, MAX_CHUNK)))
        self.map[self.end:end] = record  # type: ignore[index]
        self.end = end
        return end

    def sync(self) -> None:
        # fsync, not the map's flush: on these systems (one page cache for the file and its
        # shared mapping) it writes the mapped records as well, and it lets go of the
        # interpreter while the disk works; mmap.flush holds it, and every other thread of
        # the user's process waits out the msync (~1.5 ms an Airflow task, bench_airflow).
        if self.map is not None:
            os.fsync(self.fd)

    def mark_applied(self, offset: int) -> None:
        os.pwrite(self.applied_fd, _OFFSET.pack(offset), 0)
        self.applied = offset

    def restart(self) -> None:
        """Empty a journal whose every record is applied (the caller holds the append lock):
        cut the file and take its first chunk again, all zeros."""
        self._unmap()
        os.ftruncate(self.fd, 0)
        self.end = 0
        self.mark_applied(0)
        self._allocate(FIRST_CHUNK)

    @property
    def pending_bytes(self) -> int:
        return self.end - self.applied

    def close(self, remove: bool) -> None:
        """Close the journal; ``remove`` deletes it (everything in it is in the store)."""
        self._unmap()
        if remove:
            _remove(self.path)
        else:  # what is past the last record is zeros a later reader need not read
            try:
                os.ftruncate(self.fd, self.end)
            except OSError:
                pass
        self._close_descriptors()

    def forget_in_child(self) -> None:
        """A forked child drops its parent's mapping and descriptors (and with them no lock:
        the parent keeps it); it never writes its parent's journal."""
        self._unmap()
        self._close_descriptors()

    def _unmap(self) -> None:
        if self.map is not None:
            try:
                self.map.close()
            except (OSError, ValueError):
                pass
            self.map = None

    def _close_descriptors(self) -> None:
        for fd in (self.fd, self.applied_fd):
            try:
                os.close(fd)
            except OSError:
                pass


@dataclass
class Contents:
    """What a journal file holds past its applied offset."""

    path: Path
    events: list[tuple[int, Event]] = field(default_factory=list)  # (offset past the record, event)
    torn: str | None = None  # why reading stopped early, if it did
    start: int = 0
    size: int = 0


def applied_offset(path: Path) -> int:
    try:
        raw = path.with_suffix(APPLIED).read_bytes()
    except FileNotFoundError:
        return 0
    return _OFFSET.unpack(raw[:_OFFSET.size])[0] if len(raw) >= _OFFSET.size else 0


def read(path: Path, start: int | None = None) -> Contents:
    """The events of a journal from ``start`` (default: its applied offset); stops at a torn record."""
    out = Contents(path=path)
    for chunk in read_in_chunks(path, start, out, chunk=None):
        out.events += chunk
    return out


def read_in_chunks(path: Path, start: int | None, out: Contents,
                   chunk: int | None = 5_000) -> Iterator[list[tuple[int, Event]]]:
    """The events of a journal from ``start`` (default: its applied offset), ``chunk`` at a
    time (None: all at once); stops at a torn record. ``out`` learns the start, size and,
    once the chunks are read, why reading stopped early. A replay holds one chunk of
    parsed events at a time, not a whole journal (up to its cap, 1 GiB, of records)."""
    start = applied_offset(path) if start is None else start
    data = path.read_bytes()
    out.path, out.start, out.size = path, start, len(data)
    if start > len(data):  # the journal was emptied after the offset was written
        start = out.start = 0
    ends: list[int] = []
    payloads: list[bytes] = []
    position = start
    while position < len(data):
        if position + _HEADER.size > len(data):
            out.torn = f"a record header cut short at byte {position} of {len(data)}"
            break
        length, checksum = _HEADER.unpack_from(data, position)
        if length == 0 and checksum == 0:  # the zeros past the last record
            break
        body_start = position + _HEADER.size
        if length > MAX_RECORD or body_start + length > len(data):
            out.torn = f"a record of {length} bytes cut short at byte {position} of {len(data)}"
            break
        payload = data[body_start:body_start + length]
        if zlib.crc32(payload) != checksum:
            out.torn = f"a record with a bad checksum at byte {position}"
            break
        position = body_start + length
        ends.append(position)
        payloads.append(payload)
        if chunk is not None and len(ends) >= chunk:
            events, unreadable = _decode(ends, payloads)
            yield events
            if unreadable is not None:
                out.torn = "an unreadable record at byte {}: {}".format(*unreadable)
                return
            ends, payloads = [], []
    torn = out.torn
    events, unreadable = _decode(ends, payloads)
    if unreadable is not None:
        out.torn = "an unreadable record at byte {}: {}".format(*unreadable)
    elif torn is not None:
        out.torn = torn
    if events:
        yield events


def definitions(path: Path) -> dict[str, Any]:
    """The ``define`` records of a journal (what its events refer to by key), wherever they
    are: the writer journals one when it first needs it, after events that refer to it."""
    found: dict[str, Any] = {}
    data = path.read_bytes()
    position = 0
    while position + _HEADER.size <= len(data):
        length, checksum = _HEADER.unpack_from(data, position)
        body_start = position + _HEADER.size
        if (length == 0 and checksum == 0) or length > MAX_RECORD or body_start + length > len(data):
            break
        if data.startswith(_DEFINE_RECORD, body_start):
            payload = data[body_start:body_start + length]
            if zlib.crc32(payload) != checksum:
                break
            try:
                event = Event.from_json(json.loads(payload))
            except (ValueError, TypeError):
                break
            found[event.subject] = event.data
        position = body_start + length
    return found


_DEFINE_RECORD = b'["' + DEFINE.encode() + b'",'


def _decode(ends: list[int], payloads: list[bytes]) -> tuple[list[tuple[int, Event]], tuple[int, str] | None]:
    """The events of checked records, up to the first that is not an event (its start and why).

    The records are parsed as one JSON array: a replay reads millions of small records,
    and a parser call per record cost as much as applying them."""
    with collector.paused():
        try:
            values = json.loads(b"[" + b",".join(payloads) + b"]") if payloads else []
        except ValueError:  # a record that is not JSON (its checksum matched): find it
            values = None
        if values is not None and len(values) != len(payloads):  # a record of two values: find it
            values = None
        events: list[tuple[int, Event]] = []
        for n, end in enumerate(ends):
            try:
                raw = values[n] if values is not None else json.loads(payloads[n].decode("utf-8", "surrogatepass"))
                if isinstance(raw, list) and raw and isinstance(raw[0], list):  # several events: each ends with it
                    events += [(end, Event.from_json(item)) for item in raw]
                else:
                    events.append((end, Event.from_json(raw)))
            except (ValueError, TypeError) as exc:
                return events, (end - len(payloads[n]) - _HEADER.size, str(exc))
    return events, None


def _data_end(path: Path) -> int:
    """Where the records of a journal end (its size less the zeros allocated ahead)."""
    try:
        with open(path, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            if size == 0:
                return 0
            with mmap.mmap(file.fileno(), size, access=mmap.ACCESS_READ) as data:
                position = applied_offset(path)
                position = 0 if position > size else position
                while position + _HEADER.size <= size:
                    length = _HEADER.unpack_from(data, position)[0]
                    if length == 0 or length > MAX_RECORD:
                        break
                    position = min(size, position + _HEADER.size + length)
                return position
    except (FileNotFoundError, ValueError):
        return 0


def _remove(path: Path) -> None:
    """Delete a journal and its applied offset."""
    for each in (path, path.with_suffix(APPLIED)):
        try:
            each.unlink()
        except FileNotFoundError:
            pass


def journals(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.suffix == SUFFIX)
    except FileNotFoundError:
        return []


class Orphan:
    """A journal whose process is gone, locked by us for replay (``with`` releases it)."""

    def __init__(self, path: Path, fd: int):
        self.path = path
        self.fd = fd

    def remove(self) -> None:
        _remove(self.path)

    def release(self) -> None:
        os.close(self.fd)

    def __enter__(self) -> "Orphan":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _lock(path: Path, mode: int) -> int | None:
    """A descriptor of ``path`` holding ``flock(mode)``, or None when the file is gone or its
    process holds it (a live process keeps an exclusive lock on its journal)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def is_locked(path: Path) -> bool:
    """Whether a process holds ``path``'s lock (its own, or a handed-off or replaying one)."""
    fd = _lock(path, fcntl.LOCK_SH)
    if fd is None:
        return path.exists()
    os.close(fd)
    return False


def orphans(folder: Path, exclude: Path | None = None) -> Iterator[Orphan]:
    """Journals of processes that are gone, each locked for the caller while it is used."""
    for path in journals(folder):
        if exclude is not None and path == exclude:
            continue
        fd = _lock(path, fcntl.LOCK_EX)
        if fd is None:  # gone, or its process holds it: alive
            continue
        if not path.exists():  # replayed and removed by someone else meanwhile
            os.close(fd)
            continue
        yield Orphan(path, fd)


def pending(folder: Path, exclude: Path | None = None) -> list[tuple[Path, int, bool]]:
    """Every journal with events not yet applied: ``(path, bytes pending, its process is alive)``."""
    out = []
    for path in journals(folder):
        if exclude is not None and path == exclude:
            continue
        waiting = _data_end(path) - applied_offset(path)
        if waiting <= 0:
            continue
        fd = _lock(path, fcntl.LOCK_SH)
        if fd is not None:
            os.close(fd)
        elif not path.exists():  # replayed meanwhile
            continue
        out.append((path, waiting, fd is None))
    return out
