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
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
from pathlib import Path
from typing import Any

from .model import ArtifactVersion
from .validation import uri as validate_uri

FULL_HASH_LIMIT = 256 * 1024 * 1024
DIRECTORY_FILE_LIMIT = 1000
EDGE = 16 * 1024 * 1024
BLOCK = 1024 * 1024
BLOCKS = 64
_CHUNK = 1024 * 1024


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


def _hash_buffer(buffer: memoryview, prefix: bytes = b"") -> tuple[str, str]:
    """Hash ``prefix`` (what the bytes mean: dtype, shape, columns) then ``buffer``."""
    hasher = _Hasher(buffer.nbytes)
    hasher.digest.update(prefix)
    for start, length in hasher.ranges():
        hasher.digest.update(buffer[start:start + length])
    return hasher.hexdigest(), hasher.method


def hash_file(path: str | os.PathLike) -> tuple[str, str, int]:
    size = os.path.getsize(path)
    hasher = _Hasher(size)
    with open(path, "rb") as fh:
        for start, length in hasher.ranges():
            fh.seek(start)
            remaining = length
            while remaining > 0:
                chunk = fh.read(min(_CHUNK, remaining))
                if not chunk:
                    break
                hasher.digest.update(chunk)
                remaining -= len(chunk)
    return hasher.hexdigest(), hasher.method, size


def _directory_version(uri: str, path: str, kind: str | None) -> ArtifactVersion:
    """Hash every file's content while the folder is small; beyond that, its listing.

    A folder argument may be a whole data lake: reading it on every call would
    make tracking the slowest part of the task. Up to ``DIRECTORY_FILE_LIMIT``
    files and ``FULL_HASH_LIMIT`` bytes the contents are hashed; a larger folder
    is fingerprinted by its listing (relative path, size, modification time),
    recorded as ``fingerprint_method="listing"``.
    """
    listing = []
    total = 0
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(root, name)
            try:
                stat = os.stat(full)
            except OSError:
                continue
            listing.append((os.path.relpath(full, path), full, stat.st_size, stat.st_mtime_ns))
            total += stat.st_size
    digest = hashlib.sha256()
    if len(listing) <= DIRECTORY_FILE_LIMIT and total <= FULL_HASH_LIMIT:
        methods = set()
        for relative, full, _, _ in listing:
            file_hash, method, _ = hash_file(full)
            digest.update(f"{relative}\0{file_hash}\n".encode())
            methods.add(method)
        method = "full" if methods <= {"full"} else "sampled"
    else:
        for relative, _, size, mtime in listing:
            digest.update(f"{relative}\0{size}\0{mtime}\n".encode())
        method = "listing"
    return ArtifactVersion(uri=uri, kind=kind or "directory", content_hash="sha256:" + digest.hexdigest(),
                           size=total, metadata={"files": len(listing)}, fingerprint_method=method)


def _path_version(value: Any, kind: str | None) -> ArtifactVersion:
    uri = validate_uri("artifact uri", value)
    path = uri[len("file://"):]
    if os.path.isdir(path):
        return _directory_version(uri, path, kind)
    content_hash, method, size = hash_file(path)
    suffix = os.path.splitext(path)[1].lstrip(".").lower()
    return ArtifactVersion(uri=uri, kind=kind or "file", content_hash=content_hash, size=size,
                           metadata={"format": suffix} if suffix else {}, fingerprint_method=method)


def _numpy_version(array: Any) -> tuple[str, str, int, dict[str, Any]]:
    import numpy as np  # already imported: the value is a numpy array

    meta = {"shape": list(array.shape), "dtype": str(array.dtype)}
    if array.dtype.hasobject:
        content = repr(array.tolist()).encode()
        digest, method = _hash_buffer(memoryview(content))
        return digest, "repr:" + method, len(content), meta
    contiguous = np.ascontiguousarray(array)
    header = f"{contiguous.dtype.str}{contiguous.shape}".encode()
    digest, method = _hash_buffer(memoryview(contiguous.reshape(-1).view(np.uint8)), prefix=header)
    return digest, method, int(contiguous.nbytes), meta


def _pandas_version(frame: Any) -> tuple[str, str, int, dict[str, Any]]:
    import pandas as pd  # already imported: the value is a pandas object

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
    digest, method = _hash_buffer(body, prefix=header)
    meta = {"shape": list(frame.shape), "columns": columns[:500], "dtypes": dict(list(dtypes.items())[:500])}
    size = int(frame.memory_usage(deep=False).sum()) if is_frame else int(frame.memory_usage(deep=False))
    return digest, method_prefix + method, size, meta


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


def _sparse_version(matrix: Any) -> tuple[str, str, int, dict[str, Any]]:
    csr = matrix.tocsr()
    digest = hashlib.sha256(f"{csr.shape}{csr.dtype}".encode())
    for part in (csr.data, csr.indices, csr.indptr):
        digest.update(memoryview(part.tobytes()))
    size = int(csr.data.nbytes + csr.indices.nbytes + csr.indptr.nbytes)
    return ("sha256:" + digest.hexdigest(), "full", size,
            {"shape": list(csr.shape), "dtype": str(csr.dtype), "nnz": int(csr.nnz), "format": "sparse"})


def fingerprint(value: Any, uri: str | None = None, kind: str | None = None) -> ArtifactVersion:
    """The artifact version of ``value`` (a path, URI string, array, frame...)."""
    module = _root_module(value)
    if module == "numpy" and hasattr(value, "dtype"):
        digest, method, size, meta = _numpy_version(value)
        kind = kind or "ndarray"
    elif module == "pandas" and hasattr(value, "shape"):
        digest, method, size, meta = _pandas_version(value)
        kind = kind or ("dataframe" if type(value).__name__ == "DataFrame" else "series")
    elif module == "scipy" and hasattr(value, "tocsr"):
        digest, method, size, meta = _sparse_version(value)
        kind = kind or "sparse_matrix"
    elif isinstance(value, (bytes, bytearray)):
        digest, method = _hash_buffer(memoryview(bytes(value)))
        size, meta, kind = len(value), {}, kind or "bytes"
    elif isinstance(value, (str, os.PathLike)):
        text = os.fspath(value)
        local = "://" not in text or text.startswith("file://")
        if local and os.path.exists(text[7:] if text.startswith("file://") else text):
            version = _path_version(text, kind)
            if uri:
                return ArtifactVersion(**{**version.__dict__, "uri": validate_uri("artifact uri", uri)})
            return version
        # Not readable from here (a table, a remote object, a file not yet written):
        # the version is known only by its URI.
        normalized = validate_uri("artifact uri", uri or text)
        return ArtifactVersion(uri=normalized, kind=kind or ("file" if local else "uri"),
                               content_hash="uri:" + hashlib.sha256(normalized.encode()).hexdigest(),
                               fingerprint_method="uri-only")
    else:
        raise TypeError(f"cannot fingerprint a {type(value).__module__}.{type(value).__qualname__}")
    name = uri or f"value:{kind}/{digest.split(':', 1)[1][:16]}"
    return ArtifactVersion(uri=validate_uri("artifact uri", name) if uri else name, kind=kind,
                           content_hash=digest, size=size, metadata=meta, fingerprint_method=method)


MAX_PICKLE_BYTES = 64 * 1024 * 1024


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
    from . import params as param_rule

    normalized = param_rule.normalize(value)
    if not (isinstance(normalized, str) and normalized.startswith("<") and not isinstance(value, str)):
        body = json.dumps(normalized, sort_keys=True, allow_nan=True, default=str).encode()
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
