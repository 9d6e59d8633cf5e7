"""``/api/v1/artifacts/{sha256:hex}``: the blobs of the artifact store (model files, data
profiles, drift reports) for clients that share only the server.

``PUT`` (write scope) stores a body whose SHA-256 is the name it is sent under, and
refuses any other (nothing kept); ``GET``/``HEAD`` (read scope) answer it. Blobs land in
the server's own artifact store (its ``MODELDB_ARTIFACTS`` / ``artifacts`` setting),
content-addressed, so sending one twice stores it once. Its description (format, class,
library versions) travels beside the bytes in the ``X-ModelDB-Description`` header.
"""
from __future__ import annotations

import hashlib

from modeldb_core.extras import require

require("fastapi", "server", "modeldb server")  # a missing extra is named
from fastapi import Depends, FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from modeldb_core import wire
from modeldb_core.artifact_store import ArtifactStore
from modeldb_core.errors import NotFoundError, ValidationError

from .app import audit, read_body


def register(app: FastAPI, access) -> None:
    def artifacts() -> ArtifactStore:
        return ArtifactStore(app.state.artifacts)

    def stored(content_hash: str):
        path = artifacts().path(wire.blob_name(content_hash))
        if not path.is_file():
            raise NotFoundError("artifact blob", content_hash)
        return path

    @app.head(wire.ARTIFACTS_PATH + "/{content_hash}")
    async def has_blob(content_hash: str, token=Depends(access("read"))) -> Response:
        stored(content_hash)
        return Response(status_code=200)

    @app.get(wire.ARTIFACTS_PATH + "/{content_hash}")
    async def get_blob(content_hash: str, token=Depends(access("read"))) -> FileResponse:
        path = stored(content_hash)
        described = wire.description_header(artifacts().describe(wire.blob_name(content_hash)))
        return FileResponse(path, media_type="application/octet-stream",
                            headers={wire.DESCRIPTION_HEADER: described})

    @app.put(wire.ARTIFACTS_PATH + "/{content_hash}", status_code=201)
    async def put_blob(content_hash: str, request: Request, token=Depends(access("write"))) -> dict[str, object]:
        name = wire.blob_name(content_hash)
        description = wire.blob_description(request.headers.get(wire.DESCRIPTION_HEADER))
        data = await read_body(request, wire.MAX_BLOB_BYTES)
        actual = f"sha256:{hashlib.sha256(data).hexdigest()}"
        if actual != name:
            raise ValidationError("body", actual, f"must be the content named {name} (its SHA-256 differs)")
        blob = await run_in_threadpool(artifacts().put_bytes, data, description)
        audit(token, "artifact blob", 1)
        return {"content_hash": blob.content_hash, "size": blob.size, "created": blob.created}
