"""The content-addressed artifact store: where ModelDB keeps the bytes it makes.

Fitted models, cross-validation tables and large pipeline graphs are written
here; the metadata store only keeps their hash, size and description.

Layout under the root (``get_client().settings.artifacts``: ``MODELDB_ARTIFACTS``,
the ``artifacts`` config key, or ``~/.modeldb/artifacts``)::

    sha256/ab/cdef0123...          the bytes, named by the SHA-256 of the whole content
    sha256/ab/cdef0123....json     what they are: format, size, library versions, class
    tmp/                           writes in progress (renamed into place when complete)

Rules:
- The name is the SHA-256 of every byte (never sampled: the name *is* the
  content), computed while the bytes are written, so nothing is read twice.
- A blob is written to ``tmp/`` and renamed into place: a reader never sees a
  half-written file, and two writers of the same content end with one file.
- Blobs are made read-only; storing the same content again writes nothing new.
- Folders are created 0700 and blobs 0400 (descriptions 0600): private to
  their owner unless ``private_files`` is off (then blobs are 0444 and the
  umask decides), see ``modeldb_core.files``.
- A client whose metadata store is ``modeldb server`` shares no folder with other
  machines: given that store as ``remote``, what is put here is pushed to the server
  (``MetadataStore.push_blob``: uploaded by content hash, verified there) and a blob
  missing here is pulled from it (``pull_blob``, verified here). A database store
  pushes and pulls nothing: its clients name one artifact folder.
- The ``.json`` description is everything a CLI or UI needs to show a blob.
  Nothing here ever unpickles: ``load_pickle`` exists for a user who asks for
  the object back, and checks the hash first.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable

from . import files
from .errors import NotFoundError, ValidationError
from .model import ArtifactVersion

_ALGORITHM = "sha256"
log = logging.getLogger("modeldb.artifacts")


@dataclass(frozen=True)
class StoredBlob:
    """One blob in the store: its hash (``sha256:<hex>``), size, path and description."""

    content_hash: str
    size: int
    path: Path
    description: dict[str, Any] = field(default_factory=dict)
    created: bool = True  # False when the same content was already stored

    @property
    def uri(self) -> str:
        return "file://" + str(self.path)

    def artifact_version(self, kind: str, metadata: dict[str, Any] | None = None) -> ArtifactVersion:
        """The artifact version to record as a run's input or output."""
        meta = {**self.description, **(metadata or {})}
        return ArtifactVersion(uri=self.uri, kind=kind, content_hash=self.content_hash, size=self.size,
                               metadata=meta, fingerprint_method="full")


class _HashingWriter:
    """A file-like sink that hashes and counts what passes through it."""

    def __init__(self, fh: BinaryIO):
        self._fh = fh
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self.digest.update(view)
        self._fh.write(view)
        self.size += view.nbytes
        return view.nbytes

    def flush(self) -> None:
        self._fh.flush()


def hex_digest(content_hash: str) -> str:
    """The hex part of ``sha256:<hex>`` (or a bare hex), refusing anything else."""
    text = content_hash.split(":", 1)[1] if content_hash.startswith(f"{_ALGORITHM}:") else content_hash
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise ValidationError("content hash", content_hash, "must be 'sha256:' followed by 64 lowercase hex digits")
    return text


class ArtifactStore:
    """Blobs named by their content under one root folder (see the module docstring)."""

    def __init__(self, root: str | os.PathLike | None = None, private: bool | None = None, remote: Any = None):
        if root is None:
            from .client import get_client

            root = get_client().settings.artifacts
        self.root = Path(root).expanduser()
        self.private = files._private(private)
        self.remote = remote  # a MetadataStore that keeps blobs for other machines (see the module docstring)

    def __repr__(self) -> str:
        return f"ArtifactStore({str(self.root)!r})"

    # -- paths ------------------------------------------------------------
    def path(self, content_hash: str) -> Path:
        hexdigest = hex_digest(content_hash)
        return self.root / _ALGORITHM / hexdigest[:2] / hexdigest[2:]

    def exists(self, content_hash: str) -> bool:
        return self.path(content_hash).is_file()

    # -- writing ----------------------------------------------------------
    def put_stream(self, write: Callable[[Any], None], description: dict[str, Any] | None = None) -> StoredBlob:
        """Store what ``write(sink)`` writes into ``sink`` (a file-like object with ``write``)."""
        tmp_dir = files.make_dirs(self.root / "tmp", self.private)
        fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix="blob-")
        try:
            with os.fdopen(fd, "wb") as fh:
                sink = _HashingWriter(fh)
                write(sink)
            content_hash = f"{_ALGORITHM}:{sink.digest.hexdigest()}"
            final = self.path(content_hash)
            created = not final.is_file()
            if created:
                files.make_dirs(final.parent, self.private)
                os.chmod(tmp_name, 0o400 if self.private else 0o444)
                os.replace(tmp_name, final)
            else:
                os.unlink(tmp_name)
        except BaseException:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
            raise
        info = {"content_hash": content_hash, "size": sink.size, **(description or {})}
        self._describe(final, info)
        if self.remote is not None:
            from .errors import ModelDBError

            try:
                self.remote.push_blob(self, content_hash)
            except ModelDBError as exc:  # kept here; other machines cannot read it until pushed again
                log.warning("could not push %s to %s: %s", content_hash, self.remote.uri, exc)
        return StoredBlob(content_hash, sink.size, final, info, created)

    def put_bytes(self, data: bytes, description: dict[str, Any] | None = None) -> StoredBlob:
        return self.put_stream(lambda sink: sink.write(data), description)

    def put_json(self, value: Any, description: dict[str, Any] | None = None) -> StoredBlob:
        data = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()
        return self.put_bytes(data, {"format": "json", **(description or {})})

    def _describe(self, blob_path: Path, info: dict[str, Any]) -> None:
        """Write the description once; the first writer's stays (the content is the same)."""
        target = blob_path.with_name(blob_path.name + ".json")
        if target.exists():
            return
        info = {**info, "stored_at": time.time()}
        fd, tmp_name = tempfile.mkstemp(dir=self.root / "tmp", prefix="desc-")
        with os.fdopen(fd, "w") as fh:
            json.dump(info, fh, sort_keys=True, indent=1, default=str)
        if not self.private:
            os.chmod(tmp_name, 0o644)  # as readable as the blob it describes
        os.replace(tmp_name, target)

    # -- reading ----------------------------------------------------------
    def describe(self, content_hash: str) -> dict[str, Any]:
        """What a blob is (format, size, versions, class), read from its description alone."""
        path = self.path(content_hash)
        if not path.is_file():
            raise NotFoundError("artifact blob", content_hash)
        side = path.with_name(path.name + ".json")
        if not side.is_file():
            return {"content_hash": f"{_ALGORITHM}:{hex_digest(content_hash)}", "size": path.stat().st_size}
        return json.loads(side.read_text())

    def fetch(self, content_hash: str) -> Path:
        """The blob's path here, pulled from ``remote`` first when it is missing."""
        path = self.path(content_hash)
        if not path.is_file() and not (self.remote is not None and self.remote.pull_blob(self, content_hash)):
            raise NotFoundError("artifact blob", content_hash)
        return path

    def open(self, content_hash: str) -> BinaryIO:
        return self.fetch(content_hash).open("rb")

    def without_remote(self) -> "ArtifactStore":
        """This folder alone: what a pull writes into (a pulled blob is not pushed back)."""
        return ArtifactStore(self.root, self.private)

    def verify(self, content_hash: str) -> bool:
        """True when the stored bytes still hash to their name."""
        digest = hashlib.sha256()
        with self.open(content_hash) as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest() == hex_digest(content_hash)

    def load_pickle(self, content_hash: str) -> Any:
        """Unpickle a stored object. Only for content you trust: unpickling runs code."""
        import pickle

        if not self.verify(content_hash):
            raise ValidationError("content hash", content_hash, "the stored bytes no longer match their hash")
        with self.open(content_hash) as fh:
            return pickle.load(fh)  # noqa: S301 - explicitly asked for by the user


def default_store() -> ArtifactStore:
    """The store of this process's settings (``MODELDB_ARTIFACTS`` or ``~/.modeldb/artifacts``)."""
    return ArtifactStore()
