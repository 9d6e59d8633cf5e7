"""OpenLineage (spec 2-0-2) in and out: RunEvents as tracking events, and back.

In (``events_from``): an OpenLineage RunEvent becomes the tracking events the
store already applies idempotently and in any order, so what Spark, dbt or
Airflow's OpenLineage provider emits joins ModelDB's lineage graph:

- the job (namespace, name) is a run's name in the project named by the job's
  namespace; the run's ``runId`` is the ModelDB run id (both are UUIDs), so an
  event delivered twice names the same run;
- the parent run facet names the pipeline run (a DAG run holding its task runs);
  a run without one belongs to no pipeline run;
- START starts the run; COMPLETE, FAIL and ABORT end it succeeded, failed or
  killed; the sequence number is the ``eventTime`` in microseconds, so events
  are folded by when they happened, not when they arrived, and a terminal
  state stays (the store's rules). RUNNING and OTHER carry only datasets;
  whatever comes before START waits for it in the store;
- input and output datasets are artifacts named by the OpenLineage dataset
  naming spec turned into a URI (``file`` + ``/data/x.csv`` is
  ``file:///data/x.csv``, what ModelDB records for the same file;
  ``s3://bucket`` + ``key`` is ``s3://bucket/key``). A dataset's version is its
  ``version`` facet (its ``datasetVersion`` is the content hash); an input without one is the newest version ModelDB knows of
  that artifact (so an OpenLineage reader joins the ModelDB run that wrote or
  read it); an output without one is a version of its own per run.

Out (``run_events``): the tracking events of ModelDB runs as RunEvents (START on
``started``, COMPLETE/FAIL/ABORT on ``ended``, datasets from ``io``), sent to
``MODELDB_OPENLINEAGE_URL`` by the tracking runtime's writer (``Emitter``).
"""
from __future__ import annotations

import datetime as _dt
import math
from typing import Any, Callable, Iterable, Sequence

from . import events as ev
from .errors import ValidationError

SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
VERSION_FACET = "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet"
PRODUCER = "https://github.com/modeldb/modeldb"
ORCHESTRATOR = "openlineage"
_ENDS = {"COMPLETE": "succeeded", "FAIL": "failed", "ABORT": "killed"}
_TYPES = {"succeeded": "COMPLETE", "failed": "FAIL", "killed": "ABORT", "skipped": "ABORT"}
FACET_PREFIX = "modeldb_"


# -- in ------------------------------------------------------------------------------------
def dataset_uri(namespace: str, name: str) -> str:
    """The artifact URI of an OpenLineage dataset (namespace + name, dataset naming spec)."""
    if namespace == "file" or namespace.startswith("file://"):
        return "file://" + ("/" + name.lstrip("/"))
    if "://" in namespace:
        return namespace.rstrip("/") + "/" + name.lstrip("/")
    return f"{namespace}://{name.lstrip('/')}"


def dataset_name(uri: str) -> tuple[str, str]:
    """The OpenLineage (namespace, name) of an artifact URI: ``dataset_uri``'s inverse."""
    if uri.startswith("file://"):
        return "file", uri[len("file://"):]
    scheme, sep, rest = uri.partition("://")
    if not sep:
        return "file", uri
    authority, _, name = rest.partition("/")
    return f"{scheme}://{authority}", name


def seconds(field: str, text: Any) -> float:
    try:
        moment = _dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(field, text, "must be an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.timezone.utc)
    return moment.timestamp()


def events_from(event: dict[str, Any], latest_hash: Callable[[str], str | None]) -> list[ev.Event]:
    """The tracking events of one (schema-valid) OpenLineage RunEvent. ``latest_hash(uri)``:
    the content hash of the newest version ModelDB knows of an artifact, or None."""
    if "run" not in event:
        return []  # a DatasetEvent or JobEvent: accepted, nothing to run
    at = seconds("eventTime", event["eventTime"])
    seq = int(at * 1_000_000)
    run_id = event["run"]["runId"].lower()
    run_facets = event["run"].get("facets") or {}
    job = event["job"]
    project = job["namespace"]
    parent = run_facets.get("parent") or {}
    parent_run = (parent.get("run") or {}).get("runId")
    parent_job = parent.get("job") or {}
    kind = event.get("eventType")
    out = []
    pipeline_run = None
    if parent_run and parent_job.get("name"):
        # The parent (a DAG run holding task runs) is the pipeline run; every task's START
        # names it alike, and the store makes it once.
        external = parent_run.lower()
        pipeline_project = parent_job.get("namespace") or project
        pipeline_run = ev.pipeline_run_key(pipeline_project, parent_job["name"], ORCHESTRATOR, "", external)
        if kind == "START":
            out.append(ev.Event(ev.PIPELINE_STARTED, pipeline_run, seq, {
                "project": pipeline_project, "name": parent_job["name"], "orchestrator": ORCHESTRATOR,
                "structure": {}, "structure_hash": "", "external_id": external, "started_at": at}))
    if kind == "START":
        tags = {"openlineage.producer": event["producer"][:5000],
                "openlineage.job": f"{job['namespace']}/{job['name']}"[:5000]}
        nominal = (run_facets.get("nominalTime") or {}).get("nominalStartTime")
        if nominal:
            tags["openlineage.nominal_time"] = str(nominal)
        out.append(ev.Event(ev.STARTED, run_id, seq, {
            "project": project, "name": job["name"], "started_at": at, "pipeline_run": pipeline_run,
            "orchestrator": ORCHESTRATOR, "external_id": f"{job['namespace']}/{job['name']}"[:500],
            "params": {}, "tags": tags}))
    for direction, key in (("input", "inputs"), ("output", "outputs")):
        for dataset in event.get(key) or ():
            uri = dataset_uri(dataset["namespace"], dataset["name"])
            facets = dataset.get("facets") or {}
            version = (facets.get("version") or {}).get("datasetVersion")
            if version:
                content_hash = str(version)[:200]
            elif direction == "input":
                content_hash = latest_hash(uri) or "openlineage:unversioned"
            else:
                content_hash = f"openlineage:run:{run_id}"
            out.append(ev.Event(ev.IO, run_id, seq, {"direction": direction, "name": dataset["name"][:500],
                                                     "version": {"uri": uri, "kind": "dataset",
                                                                 "content_hash": content_hash,
                                                                 "metadata": _metadata(facets)}}))
    if kind in _ENDS:
        error = run_facets.get("errorMessage") or {}
        out.append(ev.Event(ev.ENDED, run_id, seq, {
            "status": _ENDS[kind], "ended_at": at, "error_message": error.get("message"),
            "error_traceback": error.get("stackTrace")}))
    return out


def _metadata(facets: dict[str, Any]) -> dict[str, Any]:
    """What ModelDB keeps of a dataset's facets: its schema and data quality numbers."""
    found: dict[str, Any] = {}
    fields = (facets.get("schema") or {}).get("fields")
    if fields:
        found["schema"] = {f["name"]: f.get("type") for f in fields if "name" in f}
    quality = facets.get("dataQualityMetrics") or {}
    for key in ("rowCount", "bytes"):
        if quality.get(key) is not None:
            found[key] = quality[key]
    return found


# -- out -----------------------------------------------------------------------------------
def _iso(seconds: float) -> str:
    return _dt.datetime.fromtimestamp(seconds, _dt.timezone.utc).isoformat().replace("+00:00", "Z")


class _Seen:
    """What the emitter knows of a run between batches: its job, the last value of each
    metric (by step, then time) and the models registered from it."""

    __slots__ = ("job", "metrics", "models")

    def __init__(self, job: dict[str, str]):
        self.job = job
        self.metrics: dict[str, tuple[Any, Any, Any]] = {}  # key -> (step, timestamp, value)
        self.models: list[dict[str, Any]] = []

    def facets(self) -> dict[str, Any]:
        out = {}
        if self.metrics:
            # JSON has no NaN or infinity (strict readers refuse them): those are null.
            out[f"{FACET_PREFIX}metrics"] = _facet({"metrics": {
                key: value if isinstance(value, (int, float)) and math.isfinite(value) else None
                for key, (_, _, value) in sorted(self.metrics.items())}})
        if self.models:
            out[f"{FACET_PREFIX}models"] = _facet({"models": self.models})
        return out


def run_events(batch: Sequence[ev.Event], known: dict[str, _Seen]) -> list[dict[str, Any]]:
    """RunEvents for the ``started`` and ``ended`` events of a batch, with the datasets its
    ``io`` events name; the end carries the run's last metric values and the models registered
    from it. ``known`` keeps what is known of each run between batches (run id -> _Seen)."""
    datasets: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for event in batch:
        if event.kind == ev.IO and isinstance(event.data, dict):
            version = event.data.get("version") or {}
            namespace, name = dataset_name(str(version.get("uri", "")))
            entry = {"namespace": namespace, "name": name, "facets": {"version": {
                "_producer": PRODUCER, "_schemaURL": VERSION_FACET,
                "datasetVersion": str(version.get("content_hash"))}}}
            side = "inputs" if event.data.get("direction") == "input" else "outputs"
            datasets.setdefault(event.subject, {"inputs": [], "outputs": []})[side].append(entry)
    out = []
    for event in batch:
        if event.kind == ev.STARTED:
            data = event.data
            seen = known[event.subject] = _Seen({"namespace": str(data.get("project") or "default"),
                                                 "name": str(data.get("name") or "run")})
            facets = {}
            if data.get("params"):
                facets[f"{FACET_PREFIX}params"] = _facet({"params": data["params"]})
            out.append(_run_event("START", event.subject, data["started_at"], seen.job, facets,
                                  datasets.pop(event.subject, None)))
        elif event.kind == ev.METRIC and event.subject in known:
            key, value, step, timestamp = event.data
            metrics = known[event.subject].metrics
            if key not in metrics or (step, timestamp) >= metrics[key][:2]:
                metrics[key] = (step, timestamp, value)
        elif event.kind == ev.MODEL_REGISTERED and event.subject in known:
            version = event.data.get("version") or {}
            known[event.subject].models.append({"model": event.data.get("model"), "uri": version.get("uri"),
                                                "content_hash": version.get("content_hash")})
        elif event.kind == ev.ENDED and event.subject in known:
            data = event.data
            seen = known.pop(event.subject)
            facets = seen.facets()
            if data.get("error_message"):
                facets["errorMessage"] = {**_facet({}), "message": str(data["error_message"]),
                                          "programmingLanguage": "python"}
            out.append(_run_event(_TYPES.get(data.get("status"), "OTHER"), event.subject, data["ended_at"],
                                  seen.job, facets, datasets.pop(event.subject, None)))
    for run_id, found in datasets.items():  # datasets recorded between the start and the end
        if run_id in known:
            out.append(_run_event("RUNNING", run_id, None, known[run_id].job, {}, found))
    return out


def _facet(fields: dict[str, Any]) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": f"{PRODUCER}#facets", **fields}


def _run_event(kind: str, run_id: str, at: float | None, job: dict[str, str], facets: dict[str, Any],
               found: dict[str, list[dict[str, Any]]] | None) -> dict[str, Any]:
    import time

    return {"eventType": kind, "eventTime": _iso(at if at is not None else time.time()),
            "run": {"runId": run_id, "facets": facets}, "job": dict(job),
            "inputs": (found or {}).get("inputs", []), "outputs": (found or {}).get("outputs", []),
            "producer": PRODUCER, "schemaURL": f"{SCHEMA_URL}#/$defs/RunEvent"}


class Emitter:
    """Sends the RunEvents of the batches the tracking runtime's writer applied to
    ``MODELDB_OPENLINEAGE_URL`` through the official OpenLineage client (``openlineage-python``,
    the ``openlineage`` extra) and its HTTP transport, on the writer's thread, through the one
    safe-call path: an endpoint that is down loses its events (logged), never the store's."""

    # The writer waits for each event: one retry of a refused or lost request, not the
    # client's default five with backoff (seconds a batch while an endpoint is down).
    RETRY = {"total": 1, "connect": 1, "read": 1, "backoff_factor": 0.1,
             "status_forcelist": [500, 502, 503, 504], "allowed_methods": ["POST"]}

    def __init__(self, url: str, timeout: float = 5.0):
        self.url = url
        self.timeout = timeout
        self._known: dict[str, _Seen] = {}
        self._client: Any = None  # made on the first batch: the client's import is ~0.8 s
        self._unavailable = False

    def emit(self, batch: Iterable[ev.Event]) -> int:
        from .safety import safe_call

        if self._unavailable:
            return 0
        return safe_call("make OpenLineage events", self._emit, list(batch), default=0)

    def _emit(self, batch: list[ev.Event]) -> int:
        from .safety import safe_call

        sent = 0
        for run_event in run_events(batch, self._known):
            if self._unavailable:
                break
            if safe_call("send an OpenLineage event", self._post, run_event, default=False):
                sent += 1
        return sent

    def _openlineage(self) -> Any:
        if self._client is None:
            from .errors import MissingExtraError
            from .extras import require

            try:
                client = require("openlineage.client", "openlineage", "send runs as OpenLineage events")
            except MissingExtraError:
                self._unavailable = True  # said once (safe_call logs it), then quiet
                raise
            from openlineage.client.transport.http import HttpConfig, HttpTransport

            config = HttpConfig(url=self.url, endpoint="", timeout=self.timeout, retry=dict(self.RETRY))
            self._client = client.OpenLineageClient(transport=HttpTransport(config))
        return self._client

    def _post(self, run_event: dict[str, Any]) -> bool:
        self._openlineage().emit(client_event(run_event))
        return True


def client_event(run_event: dict[str, Any]) -> Any:
    """``run_event`` (a RunEvent as JSON) as the OpenLineage client's own ``RunEvent``."""
    from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState

    def datasets(kind: Any, items: list[dict[str, Any]]) -> list[Any]:
        return [kind(namespace=d["namespace"], name=d["name"], facets=d.get("facets") or {}) for d in items]
    return RunEvent(eventType=RunState(run_event["eventType"]), eventTime=run_event["eventTime"],
                    producer=run_event["producer"],
                    run=Run(runId=run_event["run"]["runId"], facets=run_event["run"].get("facets") or {}),
                    job=Job(namespace=run_event["job"]["namespace"], name=run_event["job"]["name"]),
                    inputs=datasets(InputDataset, run_event.get("inputs") or []),
                    outputs=datasets(OutputDataset, run_event.get("outputs") or []))
