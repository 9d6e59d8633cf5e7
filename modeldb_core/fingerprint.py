"""Content fingerprints of what runs read and write.

What counts as an artifact (everything else is a plain param):
- a ``pathlib.Path``, or a ``str`` containing a path separator or a file
  suffix, that names an existing file or directory;
- numpy arrays, pandas DataFrames and Series, scipy sparse matrices, bytes.

The hashing rule: SHA-256 of the whole content up to ``FULL_HASH_LIMIT``
bytes (256 MiB); beyond that, of the size, the first and last 16 MiB and 64
evenly spaced 1 MiB blocks, recorded as ``fingerprint_method="sampled"``. A folder is hashed file by
file up to 1,000 files and 256 MiB, by its listing (names, sizes, times) beyond.
A pandas frame over the limit hashes the rows those byte ranges cover (by
its average row size) rather than every row (``pandas-rows:sampled-rows:...``).
In-memory values are named by content (``value:<kind>/<hash prefix>``), so the
array one task returns and the next task reads are the same lineage node.
Heavy libraries are never imported here: values are recognised by the module
of their type.

Bounds (fingerprinting never hangs a task nor reads without limit):
- only regular files are opened; a FIFO, socket, device or other special file
  is recorded by its path and kind (``fingerprint_method="uri-only"``,
  ``metadata={"file_type": "fifo"}``): opening a FIFO would block, and reading
  it would take the data the task was meant to read;
- a folder is walked for at most ``DIRECTORY_ENTRY_LIMIT`` entries and
  ``DIRECTORY_WALK_SECONDS``; a walk cut short records the folder by the
  listing of its top level (``listing:top-level``);
- one budget of time and bytes per tracked call (``fingerprint_seconds``,
  ``fingerprint_bytes`` in ``config``): an input that does not fit in what is
  left is recorded by reference, ``fingerprint_method="budget_exceeded"``, its
  ``content_hash`` a ``ref:`` hash of its path, size and modification time (of
  a fresh name for an in-memory value: it is not a content hash);
- arrays are hashed in place: a strided view is read in chunks of at most
  ``_CHUNK`` bytes, never copied whole.
"""
from __future__ import annotations

import contextlib
import contextvars
import hashlib
import os
import pickle
import stat
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

from . import json_text
from . import params as param_rule
from .model import ArtifactVersion
from .validation import uri as validate_uri

FULL_HASH_LIMIT = 256 * 1024 * 1024
DIRECTORY_FILE_LIMIT = 1000
EDGE = 16 * 1024 * 1024
BLOCK = 1024 * 1024
BLOCKS = 64
_CHUNK = 1024 * 1024
DIRECTORY_ENTRY_LIMIT = 10_000
DIRECTORY_WALK_SECONDS = 2.0
_FILE_TYPES = ((stat.S_ISFIFO, "fifo"), (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "character_device"),
               (stat.S_ISBLK, "block_device"), (stat.S_ISDIR, "directory"), (stat.S_ISLNK, "symlink"))


class BudgetExceeded(Exception):
    """Raised inside a fingerprint when the call's budget runs out (caught in ``fingerprint``)."""


class Budget:
    """What one tracked call may spend on fingerprints: a deadline and a number of bytes."""

    def __init__(self, seconds: float, max_bytes: int):
        self.deadline = time.monotonic() + seconds
        self.bytes_left = max_bytes

    @classmethod
    def from_settings(cls) -> "Budget":
        from .client import get_client

        settings = get_client().settings
        return cls(settings.fingerprint_seconds, settings.fingerprint_bytes)

    def expired(self) -> bool:
        return time.monotonic() >= self.deadline

    def fits(self, nbytes: int) -> bool:
        return nbytes <= self.bytes_left and not self.expired()

    def spend(self, nbytes: int) -> None:
        """Count ``nbytes`` read; raise ``BudgetExceeded`` past the bytes or the deadline."""
        self.bytes_left -= nbytes
        if self.bytes_left < 0 or self.expired():
            raise BudgetExceeded


_budget: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("modeldb_fingerprint_budget",
                                                                         default=None)


@contextlib.contextmanager
def call_budget(budget: Budget | None = None) -> Iterator[Budget]:
    """Share one budget between every fingerprint taken inside (one tracked call)."""
    budget = budget or Budget.from_settings()
    token = _budget.set(budget)
    try:
        yield budget
    finally:
        _budget.reset(token)


def _current_budget() -> Budget:
    return _budget.get() or Budget.from_settings()


def file_type(mode: int) -> str:
    """``regular`` or the kind of special file ``mode`` (from ``os.stat``) describes."""
    if stat.S_ISREG(mode):
        return "regular"
    for test, name in _FILE_TYPES:
        if test(mode):
            return name
    return "special"


def _root_module(obj: Any) -> str:
    return type(obj).__module__.split(".", 1)[0]


def looks_like_path(value: Any) -> bool:
    if isinstance(value, Path):
        return value.exists()
    if not isinstance(value, str) or not value or len(value) > 4096 or "\n" in value:
        return False
    if "://" in value:
        return value.startswith("file://") and os.path.exists(value[7:])
    if os.sep not in value and "/" not in value and not os.path.splitext(value)[1]:
        return False
    return os.path.exists(value)


def is_artifact(value: Any) -> bool:
    module = _root_module(value)
    if module == "numpy":
        return type(value).__name__ in ("ndarray", "memmap")
    if module == "pandas":
        return type(value).__name__ in ("DataFrame", "Series")
    if module == "scipy":
        return hasattr(value, "tocsr") and hasattr(value, "shape")
    if isinstance(value, (bytes, bytearray)):
        return True
    return looks_like_path(value)


class _Hasher:
    """SHA-256 over a byte stream of known size, full or sampled per the rule."""

    def __init__(self, size: int):
        self.size = size
        self.sampled = size > FULL_HASH_LIMIT
        self.digest = hashlib.sha256()
        if self.sampled:
            self.digest.update(f"size={size}".encode())

    @property
    def method(self) -> str:
        return f"sampled:first+last {EDGE // BLOCK}MiB,{BLOCKS}x{BLOCK // BLOCK}MiB" if self.sampled else "full"

    def ranges(self) -> list[tuple[int, int]]:
        if not self.sampled:
            return [(0, self.size)]
        stride = (self.size - 2 * EDGE) // (BLOCKS + 1)
        middle = [(EDGE + stride * (i + 1), BLOCK) for i in range(BLOCKS)]
        return [(0, EDGE), *middle, (self.size - EDGE, EDGE)]

    def hexdigest(self) -> str:
        return "sha256:" + self.digest.hexdigest()


def _planned(hasher: _Hasher) -> int:
    return sum(length for _, length in hasher.ranges())


def _hash_buffer(buffer: memoryview, prefix: bytes = b"", budget: Budget | None = None) -> tuple[str, str]:
    """Hash ``prefix`` (what the bytes mean: dtype, shape, columns) then ``buffer``."""
    hasher = _Hasher(buffer.nbytes)
    if budget is not None and not budget.fits(_planned(hasher)):
        raise BudgetExceeded
    hasher.digest.update(prefix)
    for start, length in hasher.ranges():
        for at in range(start, start + length, 16 * _CHUNK):
            hasher.digest.update(buffer[at:min(at + 16 * _CHUNK, start + length)])
            if budget is not None:
                budget.spend(min(16 * _CHUNK, start + length - at))
    return hasher.hexdigest(), hasher.method


def _open_regular(path: str | os.PathLike) -> tuple[int, os.stat_result]:
    """An fd of ``path`` opened for reading only if it is a regular file (a FIFO is never opened)."""
    before = os.stat(path)
    if not stat.S_ISREG(before.st_mode):
        raise IsADirectoryError(f"{os.fspath(path)!r} is a {file_type(before.st_mode)}, not a regular file")
    # O_NONBLOCK: if the path was swapped for a FIFO since the stat, open returns at once.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    after = os.fstat(fd)
    if not stat.S_ISREG(after.st_mode):
        os.close(fd)
        raise IsADirectoryError(f"{os.fspath(path)!r} is a {file_type(after.st_mode)}, not a regular file")
    return fd, after


def hash_file(path: str | os.PathLike, budget: Budget | None = None) -> tuple[str, str, int]:
    """(``sha256:<hex>``, method, size) of a regular file, full or sampled per the rule."""
    fd, info = _open_regular(path)
    with open(fd, "rb", closefd=True) as fh:
        size = info.st_size
        hasher = _Hasher(size)
        if budget is not None and not budget.fits(_planned(hasher)):
            raise BudgetExceeded
        for start, length in hasher.ranges():
            fh.seek(start)
            remaining = length
            while remaining > 0:
                chunk = fh.read(min(_CHUNK, remaining))
                if not chunk:
                    break
                hasher.digest.update(chunk)
                remaining -= len(chunk)
                if budget is not None:
                    budget.spend(len(chunk))
    return hasher.hexdigest(), hasher.method, size


def _bounded_walk(path: str, budget: Budget | None) -> list[tuple[str, str, int, int]] | None:
    """Every regular file under ``path`` as (relative, full, size, mtime), or ``None`` if the walk
    met its entry or time limit first. Special files are counted, never opened."""
    deadline = time.monotonic() + DIRECTORY_WALK_SECONDS
    if budget is not None:
        deadline = min(deadline, budget.deadline)
    listing, entries, stack = [], 0, [path]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                children = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        subfolders = []
        for entry in children:
            entries += 1
            if entries > DIRECTORY_ENTRY_LIMIT or (entries % 256 == 0 and time.monotonic() > deadline):
                return None
            try:
                if entry.is_dir(follow_symlinks=False):
                    subfolders.append(entry.path)
                elif entry.is_file(follow_symlinks=True):
                    info = entry.stat(follow_symlinks=True)
                    listing.append((os.path.relpath(entry.path, path), entry.path, info.st_size,
                                    info.st_mtime_ns))
            except OSError:
                continue
        stack.extend(reversed(subfolders))
    if time.monotonic() > deadline:
        return None
    return sorted(listing)


def _top_level_listing(path: str) -> tuple[str, int, int]:
    """(hash, entries, total size) of a folder's own entries: names, kinds, sizes, times (not followed)."""
    digest = hashlib.sha256()
    count = total = 0
    try:
        with os.scandir(path) as it:
            for entry in sorted(it, key=lambda e: e.name)[:DIRECTORY_ENTRY_LIMIT]:
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                digest.update(f"{entry.name}\0{file_type(info.st_mode)}\0{info.st_size}\0"
                              f"{info.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
                count += 1
                total += info.st_size if stat.S_ISREG(info.st_mode) else 0
    except OSError:
        pass
    return "sha256:" + digest.hexdigest(), count, total


def _directory_version(uri: str, path: str, kind: str | None, budget: Budget | None) -> ArtifactVersion:
    """Hash every file's content while the folder is small; beyond that, its listing.

    A folder argument may be a whole data lake (or ``/``): reading it on every
    call would make tracking the slowest part of the task. The walk stops at
    ``DIRECTORY_ENTRY_LIMIT`` entries or ``DIRECTORY_WALK_SECONDS``; a folder
    it covers with at most ``DIRECTORY_FILE_LIMIT`` files and
    ``FULL_HASH_LIMIT`` bytes has its contents hashed; a larger one is
    fingerprinted by its listing (relative path, size, modification time,
    ``fingerprint_method="listing"``); one the walk could not finish, by the
    listing of its top level alone (``listing:top-level``).
    """
    listing = _bounded_walk(path, budget)
    if listing is None:
        content_hash, entries, total = _top_level_listing(path)
        return ArtifactVersion(uri=uri, kind=kind or "directory", content_hash=content_hash, size=None,
                               metadata={"entries": entries, "walk": "stopped"},
                               fingerprint_method="listing:top-level")
    total = sum(size for _, _, size, _ in listing)
    digest = hashlib.sha256()
    method = "listing"
    if len(listing) <= DIRECTORY_FILE_LIMIT and total <= FULL_HASH_LIMIT:
        methods = set()
        for relative, full, _, _ in listing:
            try:
                file_hash, file_method, _ = hash_file(full, budget)
            except IsADirectoryError:  # swapped for a special file since the walk
                file_hash, file_method = "special", "full"
            except OSError:
                file_hash, file_method = "unreadable", "full"
            digest.update(f"{relative}\0{file_hash}\n".encode("utf-8", "surrogateescape"))
            methods.add(file_method)
        method = "full" if methods <= {"full"} else "sampled"
    else:
        for relative, _, size, mtime in listing:
            digest.update(f"{relative}\0{size}\0{mtime}\n".encode("utf-8", "surrogateescape"))
    return ArtifactVersion(uri=uri, kind=kind or "directory", content_hash="sha256:" + digest.hexdigest(),
                           size=total, metadata={"files": len(listing)}, fingerprint_method=method)


def _path_version(text: str, kind: str | None, budget: Budget | None) -> ArtifactVersion:
    uri = validate_uri("artifact uri", text)
    path = os.path.abspath(os.path.expanduser(text[len("file://"):] if text.startswith("file://") else text))
    mode = os.stat(path).st_mode
    if stat.S_ISDIR(mode):
        return _directory_version(uri, path, kind, budget)
    if not stat.S_ISREG(mode):
        # Never opened: a FIFO would block (or lose its data to us), a device may be endless.
        kind_of_file = file_type(mode)
        return ArtifactVersion(uri=uri, kind=kind or kind_of_file,
                               content_hash="uri:" + hashlib.sha256(uri.encode()).hexdigest(),
                               metadata={"file_type": kind_of_file}, fingerprint_method="uri-only")
    try:
        content_hash, method, size = hash_file(path, budget)
    except BudgetExceeded:
        return _by_reference(uri, kind or "file", path)
    suffix = os.path.splitext(path)[1].lstrip(".").lower()
    return ArtifactVersion(uri=uri, kind=kind or "file", content_hash=content_hash, size=size,
                           metadata={"format": suffix} if suffix else {}, fingerprint_method=method)


def _by_reference(uri: str, kind: str, path: str | None = None) -> ArtifactVersion:
    """The version of an input the call's budget could not read: named by reference, not content."""
    size = None
    if path is not None:
        try:
            info = os.stat(path)
            size = info.st_size
            basis = f"{uri}\0{info.st_size}\0{info.st_mtime_ns}"
        except OSError:
            basis = uri
    else:
        basis = uri
    return ArtifactVersion(uri=uri, kind=kind, content_hash="ref:" + hashlib.sha256(basis.encode()).hexdigest(),
                           size=size, metadata={"reason": "the fingerprint budget of the call was spent"},
                           fingerprint_method="budget_exceeded")


def _array_pieces(array: Any, start: int, length: int) -> Iterator[memoryview]:
    """Bytes ``[start, start + length)`` of ``array``'s C-order layout, in pieces.

    A C-contiguous array is read in place. A strided view (a column, a
    transposed or stepped slice) is copied a block of rows of at most
    ``16 * _CHUNK`` bytes at a time (a row larger than that, row by row): the
    whole array is never copied.
    """
    import numpy as np  # already imported: the value is a numpy array

    piece = 16 * _CHUNK
    end = start + length
    if length <= 0:
        return
    if array.flags.c_contiguous:
        flat = memoryview(array.reshape(-1).view(np.uint8))
        for at in range(start, end, piece):
            yield flat[at:min(at + piece, end)]
        return
    row_bytes = array.nbytes // array.shape[0]
    if row_bytes == 0:
        return
    first, last = start // row_bytes, -(-end // row_bytes)
    if row_bytes > piece and array.ndim > 1:
        for row in range(first, last):
            lo, hi = max(start - row * row_bytes, 0), min(end - row * row_bytes, row_bytes)
            yield from _array_pieces(array[row], lo, hi - lo)
        return
    rows = max(piece // row_bytes, 1)
    for row in range(first, last, rows):
        block = np.ascontiguousarray(array[row:min(row + rows, last)])
        data = memoryview(block.reshape(-1).view(np.uint8))
        lo, hi = max(start - row * row_bytes, 0), min(end - row * row_bytes, data.nbytes)
        yield data[lo:hi]


def _numpy_version(array: Any, budget: Budget | None) -> tuple[str, str, int, dict[str, Any]]:
    meta = {"shape": list(array.shape), "dtype": str(array.dtype)}
    if array.dtype.hasobject:
        if budget is not None and not budget.fits(array.size * 64):
            raise BudgetExceeded
        content = repr(array.tolist()).encode()
        digest, method = _hash_buffer(memoryview(content), budget=budget)
        return digest, "repr:" + method, len(content), meta
    # The header of the contiguous copy this rule once hashed (a 0-d array counted as shape (1,)).
    header = f"{array.dtype.str}{array.shape if array.ndim else (1,)}".encode()
    nbytes = int(array.size) * array.dtype.itemsize
    hasher = _Hasher(nbytes)
    if budget is not None and not budget.fits(_planned(hasher)):
        raise BudgetExceeded
    hasher.digest.update(header)
    for start, length in hasher.ranges():
        for part in _array_pieces(array, start, length):
            hasher.digest.update(part)
            if budget is not None:
                budget.spend(part.nbytes)
    return hasher.hexdigest(), hasher.method, nbytes, meta


def _pandas_version(frame: Any, budget: Budget | None) -> tuple[str, str, int, dict[str, Any]]:
    import pandas as pd  # already imported: the value is a pandas object

    memory = int(frame.memory_usage(deep=False).sum()) if is_frame_like(frame) \
        else int(frame.memory_usage(deep=False))
    planned = min(memory, 2 * EDGE + BLOCKS * BLOCK) if memory > FULL_HASH_LIMIT else memory
    if budget is not None:
        if not budget.fits(planned):
            raise BudgetExceeded
        budget.spend(planned)
    is_frame = type(frame).__name__ == "DataFrame"
    # Hashing every row of a large frame costs as much as reading it: hash the
    # rows under the same first/last/blocks rule, and say so in the method.
    row_ranges, sampled_rows = _sampled_rows(frame)
    try:
        if row_ranges is None:
            hashed = pd.util.hash_pandas_object(frame, index=True).to_numpy()
        else:
            import numpy as np

            hashed = np.concatenate([pd.util.hash_pandas_object(frame.iloc[a:b], index=True).to_numpy()
                                     for a, b in row_ranges] + [np.array([len(frame)], dtype=np.uint64)])
        body = memoryview(hashed).cast("B")
        method_prefix = "pandas-rows:" + sampled_rows
    except TypeError:  # unhashable cells (lists, dicts): fall back to the CSV text
        body = memoryview(frame.to_csv().encode())
        method_prefix = "csv:"
    if is_frame:
        columns = [str(c) for c in frame.columns]
        dtypes = {str(c): str(d) for c, d in frame.dtypes.items()}
    else:
        columns = [str(frame.name)]
        dtypes = {str(frame.name): str(frame.dtype)}
    header = repr((columns, sorted(dtypes.items()))).encode()
    digest, method = _hash_buffer(body, prefix=header, budget=budget)
    meta = {"shape": list(frame.shape), "columns": columns[:500], "dtypes": dict(list(dtypes.items())[:500])}
    size = int(frame.memory_usage(deep=False).sum()) if is_frame else int(frame.memory_usage(deep=False))
    return digest, method_prefix + method, size, meta


def is_frame_like(frame: Any) -> bool:
    return hasattr(frame, "columns")


def _sampled_rows(frame: Any) -> tuple[list[tuple[int, int]] | None, str]:
    """Row ranges to hash for a frame over ``FULL_HASH_LIMIT`` bytes (``None``: every row).

    The byte rule in rows: the rows of the first and last 16 MiB and of 64
    evenly spaced 1 MiB blocks, by the frame's average row size.
    """
    n = len(frame)
    size = int(frame.memory_usage(deep=False).sum()) if hasattr(frame, "columns") \
        else int(frame.memory_usage(deep=False))
    if size <= FULL_HASH_LIMIT or n < 2:
        return None, ""
    per_row = max(size / n, 1.0)
    edge, block = max(int(EDGE / per_row), 1), max(int(BLOCK / per_row), 1)
    if 2 * edge + BLOCKS * block >= n:
        return None, ""
    stride = (n - 2 * edge) // (BLOCKS + 1)
    middle = [(edge + stride * (i + 1), edge + stride * (i + 1) + block) for i in range(BLOCKS)]
    return ([(0, edge), *middle, (n - edge, n)],
            f"sampled-rows:first+last {EDGE // BLOCK}MiB,{BLOCKS}x{BLOCK // BLOCK}MiB:")


def _sparse_version(matrix: Any, budget: Budget | None) -> tuple[str, str, int, dict[str, Any]]:
    csr = matrix.tocsr()
    size = int(csr.data.nbytes + csr.indices.nbytes + csr.indptr.nbytes)
    if budget is not None:
        budget.spend(size)
    digest = hashlib.sha256(f"{csr.shape}{csr.dtype}".encode())
    for part in (csr.data, csr.indices, csr.indptr):
        for piece in _array_pieces(part, 0, int(part.nbytes)):
            digest.update(piece)
    return ("sha256:" + digest.hexdigest(), "full", size,
            {"shape": list(csr.shape), "dtype": str(csr.dtype), "nnz": int(csr.nnz), "format": "sparse"})


def fingerprint(value: Any, uri: str | None = None, kind: str | None = None,
                budget: Budget | None = None) -> ArtifactVersion:
    """The artifact version of ``value`` (a path, URI string, array, frame...).

    ``budget`` defaults to the one of the enclosing ``call_budget()``, else a
    fresh one from the settings; an input it cannot cover is recorded by
    reference (``fingerprint_method="budget_exceeded"``).
    """
    budget = budget or _current_budget()
    module = _root_module(value)
    try:
        if module == "numpy" and hasattr(value, "dtype"):
            kind = kind or "ndarray"
            digest, method, size, meta = _numpy_version(value, budget)
        elif module == "pandas" and hasattr(value, "shape"):
            kind = kind or ("dataframe" if type(value).__name__ == "DataFrame" else "series")
            digest, method, size, meta = _pandas_version(value, budget)
        elif module == "scipy" and hasattr(value, "tocsr"):
            kind = kind or "sparse_matrix"
            digest, method, size, meta = _sparse_version(value, budget)
        elif isinstance(value, (bytes, bytearray)):
            kind = kind or "bytes"
            digest, method = _hash_buffer(memoryview(value), budget=budget)
            size, meta = len(value), {}
        elif isinstance(value, (str, os.PathLike)):
            return _text_version(os.fspath(value), uri, kind, budget)
        else:
            raise TypeError(f"cannot fingerprint a {type(value).__module__}.{type(value).__qualname__}")
    except BudgetExceeded:
        name = validate_uri("artifact uri", uri) if uri else f"value:{kind}/unhashed-{uuid.uuid4().hex[:16]}"
        return _by_reference(name, kind)
    name = uri or f"value:{kind}/{digest.split(':', 1)[1][:16]}"
    return ArtifactVersion(uri=validate_uri("artifact uri", name) if uri else name, kind=kind,
                           content_hash=digest, size=size, metadata=meta, fingerprint_method=method)


def _text_version(text: str, uri: str | None, kind: str | None, budget: Budget) -> ArtifactVersion:
    local = "://" not in text or text.startswith("file://")
    path = text[7:] if text.startswith("file://") else text
    if local and os.path.exists(path):
        try:
            version = _path_version(text, kind, budget) if not budget.expired() else None
        except BudgetExceeded:
            version = None
        if version is None:
            version = _by_reference(validate_uri("artifact uri", text), kind or "file", path)
        if uri:
            return ArtifactVersion(**{**version.__dict__, "uri": validate_uri("artifact uri", uri)})
        return version
    # Not readable from here (a table, a remote object, a file not yet written):
    # the version is known only by its URI.
    normalized = validate_uri("artifact uri", uri or text)
    return ArtifactVersion(uri=normalized, kind=kind or ("file" if local else "uri"),
                           content_hash="uri:" + hashlib.sha256(normalized.encode()).hexdigest(),
                           fingerprint_method="uri-only")


MAX_PICKLE_BYTES = 64 * 1024 * 1024


# A value's canonical JSON (what json.dumps(sort_keys=True, default=str) writes: the content
# hashes of values recorded before stay the same), the encoder made once for every value.
_canonical_json = json_text.encoder(sort_keys=True, default=str)


def value_version(value: Any) -> ArtifactVersion | None:
    """The version of any value passed between tasks (an XCom, a Prefect result).

    Artifact-like values are fingerprinted as above. Any other value by its
    canonical JSON (``value:json/<hash>``, after the param normalization rule)
    or, when it has no JSON form, its pickle (``value:object/<hash>``, up to
    64 MiB; larger or unpicklable values get no version). Every orchestrator
    integration uses this one rule, so one value is one lineage node whichever
    orchestrator passed it.
    """
    if value is None:
        return None
    if is_artifact(value):
        return fingerprint(value)
    normalized = param_rule.normalize(value)
    if not (isinstance(normalized, str) and normalized.startswith("<") and not isinstance(value, str)):
        body = _canonical_json(normalized).encode()
        kind = method = "json"
    else:
        try:
            body = pickle.dumps(value, protocol=4)
        except Exception:  # noqa: BLE001 - an unpicklable value has no content fingerprint
            return None
        if len(body) > MAX_PICKLE_BYTES:
            return None
        kind, method = "object", "pickle"
    digest = hashlib.sha256(body).hexdigest()
    return ArtifactVersion(uri=f"value:{kind}/{digest[:16]}", kind=kind, content_hash="sha256:" + digest,
                           size=len(body), metadata={"type": f"{type(value).__module__}.{type(value).__qualname__}"},
                           fingerprint_method=method)


def reference(version: ArtifactVersion) -> str:
    """A short param value standing for an artifact argument."""
    shape = version.metadata.get("shape")
    shown = f" shape={tuple(shape)}" if shape is not None else ""
    return f"<{version.kind} {version.content_hash[:19]}{shown}>" if version.uri.startswith("value:") \
        else version.uri
