"""The registry, deployments and monitoring through ``modeldb server``: the same scenario once
against a database URI and once against a server URI over the same kind of database, with
the same answers; through the server the serving host shares nothing with the training host
but the server (each has its own HOME and artifact folder).

The scenario runs in real client processes (a trainer and a serving host, scikit-learn fits,
``mdb.load_model``, ``mdb.monitor``); its results are then read with the real CLI.
"""
from __future__ import annotations

import json
import math
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner

from modeldb_core.cli import cli

TRAINER = r"""
import json, sys
import numpy as np, pandas as pd
import modeldb_core as mdb
from modeldb_core import registry
from modeldb_core.errors import ModelDBError
from modeldb_core.sklearn import autolog
from sklearn.linear_model import Ridge

mdb.configure()
rng = np.random.default_rng(1)
train = pd.DataFrame(rng.normal(size=(2000, 3)), columns=["area", "age", "floor"])
target = train["area"] * 2 + train["age"]
autolog(register_model="pricing")
try:
    Ridge(alpha=1.0).fit(train, target)                     # version 1: a good fit
    Ridge(alpha=1e6).fit(train, target)                     # version 2: shrunk to nothing
finally:
    autolog(disable=True)
mdb.flush()
out = {}
registry.set_policy("pricing", "production", {"thresholds": ["training_score >= 0.9"]}, reason="SR 11-7")
out["promoted"] = registry.promote("models:/pricing/1", "production", reason="first").to_version
try:
    registry.promote("models:/pricing/2", "production")
except ModelDBError as exc:
    out["refused"] = [type(exc).__name__, str(exc), exc.verdict.rule, exc.verdict.values]
try:
    mdb.resolve_model("models:/nosuch@production")
except ModelDBError as exc:
    out["unknown"] = [type(exc).__name__, str(exc)]
deployed = mdb.record_deployment("models:/pricing@production", "prod", endpoint="https://pricing.internal")
out["deployed"] = [deployed.model, deployed.version, deployed.environment, deployed.state]
print(json.dumps(out))
"""

SERVING = r"""
import json
import numpy as np, pandas as pd
import modeldb_core as mdb

mdb.configure()
model = mdb.load_model("models:/pricing@production")       # the file was made on the trainer
out = {"flagged": []}
for n in range(7):
    batch = pd.DataFrame(np.random.default_rng(10 + n).normal(size=(500, 3)), columns=["area", "age", "floor"])
    batch["area"] += 0.0 if n < 4 else 1.0
    result = mdb.monitor("models:/pricing/1", batch=batch, predictions=model.predict(batch), deployment="prod")
    out["flagged"].append(bool(result.flagged))
    out.setdefault("problems", []).extend(result.problems)
mdb.flush()
out["predicts"] = [round(float(v), 6) for v in model.predict(batch.head(2))]
print(json.dumps(out))
"""

# What differs between two runs of the same scenario: times, ids, hashes of time-stamped rows, paths.
_VOLATILE = {"at", "since", "until", "created_at", "started_at", "ended_at", "state_changed_at", "hash",
             "prev_hash", "uuid", "run_id", "id", "duration", "heartbeat_at", "stored_at", "pid", "host",
             "artifact_uri", "uri", "fit_time_s", "last_batch", "latest", "key", "environment_id",
             "code_version_id", "path", "label"}


def _stable(value):
    if isinstance(value, dict):
        # Seconds something took (fit_time_s, model_serialization_s) differ from run to run.
        return {k: ("*" if k in _VOLATILE or k.endswith("_s") else _stable(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    if isinstance(value, str):
        value = re.sub(r"/(local|trainer|serving)-host/", "/<host>/", value)
        value = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<uuid>", value)
        return re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?", "<time>", value)
    return value


def _flat(value, path: str = "") -> dict:
    """``{"report.model.name": "pricing", ...}``: a difference then names where it is."""
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in _flat(item, f"{path}.{key}").items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in _flat(item, f"{path}[{i}]").items()}
    return {path.lstrip("."): value}


def _same(path: str, a, b) -> bool:
    """Equal; drift statistics within 10%: the profile's KLL quantile sketch compacts at random,
    so two profiles of the same data differ a little (on one store as across two)."""
    if "drift" in path and isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=0.1, abs_tol=0.01)
    return a == b


def _client(script: str, uri: str, home, env, token: str | None) -> dict:
    env = {**env, "HOME": str(home), "MODELDB_URI": uri, "MODELDB_ARTIFACTS": str(home / "artifacts"),
           "MODELDB_IDENTITY": "alice"}
    env.pop("MODELDB_TOKEN", None)
    if token:
        env["MODELDB_TOKEN"] = token
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _read(uri: str) -> dict:
    """What a user checks afterwards, through the CLI."""
    def cli_json(*args: str):
        result = CliRunner().invoke(cli, ["--uri", uri, *args, "--json"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    def cli_text(*args: str, code: int = 0) -> str:
        result = CliRunner().invoke(cli, ["--uri", uri, *args], catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    report = json.loads(cli_text("report", "models:/pricing@production", "--format", "json"))
    return {
        "models": cli_json("models", "list"),
        "versions": cli_json("models", "show", "pricing"),
        "production": cli_json("models", "show", "pricing@production"),
        "history": cli_json("models", "history", "pricing"),
        "deployments": cli_json("deployments", "list", "--all"),
        "monitor": cli_json("monitor", "status", "pricing"),
        "audit": cli_json("audit", "list"),
        "verify": cli_text("audit", "verify"),
        "report": {k: report[k] for k in ("model", "version", "params", "metrics", "alias_history",
                                          "policies", "deployments", "audit") if k in report},
        "refused_cli": cli_text("models", "promote", "pricing/2", "production", code=1),
        "unknown_cli": cli_text("models", "show", "nosuch", code=1),
    }


@pytest.fixture
def two_stores(store_uri, tmp_path, request):
    """Two fresh, empty stores of one kind (SQLite files, or PostgreSQL databases)."""
    if store_uri.startswith("sqlite"):
        return store_uri, f"sqlite:///{tmp_path / 'behind-the-server.db'}"
    return store_uri, request.getfixturevalue("postgres_server").new_database()


def test_the_scenario_answers_the_same_through_the_server(two_stores, start_server, server_env, tmp_path,
                                                           new_token, monkeypatch):
    local_uri, served_uri = two_stores
    from modeldb_core.store import open_store

    with open_store(served_uri) as store:
        store.upgrade()
    token = new_token(served_uri, "write", name="alice")  # the clients' identity: the same actors
    server = start_server(served_uri)

    # Locally: both hosts name one database and one artifact folder (a team's shared disk).
    shared = tmp_path / "local-host"
    local = (_client(TRAINER, local_uri, shared, server_env, None),
             _client(SERVING, local_uri, shared, server_env, None))
    # Through the server: two hosts that share nothing else.
    remote = (_client(TRAINER, server.url, tmp_path / "trainer-host", server_env, token),
              _client(SERVING, server.url, tmp_path / "serving-host", server_env, token))

    assert local == remote
    trained, served = remote
    assert trained["promoted"] == 1 and trained["deployed"] == ["pricing", 1, "prod", "deployed"]
    kind, message, rule, values = trained["refused"]
    assert kind == "PromotionRefusedError" and rule == "threshold training_score >= 0.9"
    assert "models:/pricing/2" in message and values["value"] < 0.9
    assert trained["unknown"][0] == "NotFoundError" and "nosuch" in trained["unknown"][1]
    assert served["flagged"][-3:] == [True, True, True] and not any(served["flagged"][:4])
    assert served["problems"] == []  # the training profile came from the server

    monkeypatch.setenv("MODELDB_TOKEN", token)
    here, there = _flat(_stable(_read(local_uri))), _flat(_stable(_read(server.url)))
    assert {k: (here.get(k), there.get(k)) for k in here.keys() | there.keys()
            if not _same(k, here.get(k), there.get(k))} == {}
    through = _read(server.url)
    assert [(d["state"], d["environment"]) for d in through["deployments"]] == [("degraded", "prod")]
    assert through["monitor"][0]["state"] == "degraded" and through["monitor"][0]["batches"] == 7
    assert "the chain holds" in through["verify"]
    assert "threshold training_score >= 0.9" in through["refused_cli"]
    assert "no model with id 'nosuch'" in through["unknown_cli"]
    assert [a["action"] for a in through["audit"]][-1] == "deployment.degrade"

    # The serving host's batch profiles and drift reports reached the server (its writer pushes
    # them, so `monitor` never waits for an upload): a third machine reads each one.
    from modeldb_core.artifact_store import ArtifactStore

    elsewhere = ArtifactStore(tmp_path / "third-host")
    with open_store(server.url) as store:  # MODELDB_TOKEN is set above
        monitoring = [r for r in store.list_runs(limit=1000) if r.phase == "monitoring"]
        kept = {v for r in monitoring for k, v in store.get_run_detail(r.id).tags.items()
                if k in ("modeldb.profile.batch", "modeldb.monitor.drift")}
        assert len(monitoring) == 7 and len(kept) >= 8
        assert all(store.pull_blob(elsewhere, content_hash) for content_hash in kept)


def _content(label: str):
    import hashlib

    from modeldb_core.model import ArtifactVersion

    digest = hashlib.sha256(label.encode()).hexdigest()
    return ArtifactVersion(uri=f"file:///nowhere/{label}.pkl", kind="model", content_hash=f"sha256:{digest}",
                           size=10)


def test_a_read_token_reads_but_cannot_change_the_registry(sqlite_uri, start_server, http, new_token):
    from modeldb_core.errors import AuthenticationError, AuthorizationError
    from modeldb_core.store import open_store
    from modeldb_core.store.http_store import HttpStore

    with open_store(sqlite_uri) as store:
        store.upgrade()
    writer, reader = new_token(sqlite_uri, "write"), new_token(sqlite_uri, "read")
    server = start_server(sqlite_uri)
    HttpStore(server.url, token=writer).register_model_version("pricing", _content("v1"), "alice")
    remote = HttpStore(server.url, token=reader)
    audited = len(remote.audit_events())
    assert [m.name for m in remote.list_models()] == ["pricing"]

    with pytest.raises(AuthorizationError, match="read"):
        remote.promote("models:/pricing/1", "production", "mallory", reason="mine now")
    for call in (lambda: remote.set_policy("pricing", "production", {}, "mallory"),
                 lambda: remote.approve("models:/pricing/1", "production", "mallory"),
                 lambda: remote.record_deployment("models:/pricing/1", "prod", "mallory"),
                 lambda: remote.register_model_version("pricing", _content("v2"), "mallory")):
        with pytest.raises(AuthorizationError):
            call()
    status, answer = http("POST", server.url + "/api/v1/promotions",
                          {"ref": "models:/pricing/1", "alias": "production", "actor": "mallory"}, token=reader)
    assert status == 403 and answer["error"]["type"] == "AuthorizationError"
    status, _ = http("PUT", server.url + "/api/v1/artifacts/sha256:" + "0" * 64, b"x", token=reader)
    assert status == 403
    with pytest.raises(AuthenticationError):
        HttpStore(server.url, token="").promote("models:/pricing/1", "production", "nobody")

    # Nothing was written.
    assert remote.alias_history("pricing") == [] and remote.deployments(history=True) == []
    assert len(remote.audit_events()) == audited and remote.get_policy("pricing", "production") is None
    assert [v.version for v in remote.model_versions("pricing")] == [1]
    assert remote.verify_audit().ok


def test_the_audit_actor_of_a_remote_write_is_the_tokens_owner(sqlite_uri, start_server, new_token, tmp_path,
                                                                monkeypatch):
    """Two tokens, made for alice and bob; every client claims to be mallory. The registry's
    records (audit log, alias history, approvals, deployments) name the token's owner, for the
    synchronous calls and for a registration sent as a tracking event."""
    import modeldb_core as mdb
    from modeldb_core.store import open_store
    from modeldb_core.store.http_store import HttpStore

    with open_store(sqlite_uri) as store:
        store.upgrade()
    alice = new_token(sqlite_uri, "write", name="alice")
    bob = new_token(sqlite_uri, "write", name="bob")
    server = start_server(sqlite_uri)
    as_alice, as_bob = HttpStore(server.url, token=alice), HttpStore(server.url, token=bob)
    assert as_alice.register_model_version("pricing", _content("v1"), "mallory").created_by == "alice"
    as_bob.approve("models:/pricing/1", "production", "mallory", reason="checked")
    as_alice.set_policy("pricing", "production", {"approvals": {"count": 1, "approvers": ["bob"]}}, "mallory")
    moved = as_alice.promote("models:/pricing/1", "production", "mallory", reason="approved by bob")
    deployed = as_bob.record_deployment("models:/pricing@production", "prod", "mallory")
    assert (moved.actor, deployed.actor) == ("alice", "bob")

    monkeypatch.setenv("MODELDB_TOKEN", bob)
    monkeypatch.setenv("MODELDB_IDENTITY", "mallory")
    client = mdb.configure(uri=server.url, artifacts=str(tmp_path / "artifacts"))
    try:
        with mdb.start_run("train", project="default", phase="training") as run:
            run.register_model("pricing", _content("v2"))
        mdb.flush()
    finally:
        client.close()

    with open_store(sqlite_uri) as store:
        actors = [(e.action, e.actor) for e in store.audit_events()]
        assert actors == [("model.create", "alice"), ("version.register", "alice"), ("version.approve", "bob"),
                          ("policy.set", "alice"), ("alias.move", "alice"), ("deployment.record", "bob"),
                          ("version.register", "bob")]
        assert [a.actor for a in store.approvals("pricing")] == ["bob"]
        assert [m.actor for m in store.alias_history("pricing")] == ["alice"]
        assert [d.actor for d in store.deployments()] == ["bob"]
        assert store.resolve_model("models:/pricing/2").created_by == "bob"
        assert store.verify_audit().ok


def test_models_of_two_projects_through_the_server(sqlite_uri, start_server, new_token):
    """The routes carry a model's project: each project's ``pricing`` is reached, the bare name
    is refused with the error the local store raises."""
    from modeldb_core.errors import AmbiguousModelError
    from modeldb_core.store import open_store
    from modeldb_core.store.http_store import HttpStore

    with open_store(sqlite_uri) as store:
        store.upgrade()
    server = start_server(sqlite_uri)
    remote = HttpStore(server.url, token=new_token(sqlite_uri, "write"))
    remote.register_model_version("pricing", _content("risk"), "alice", project="risk")
    remote.register_model_version("pricing", _content("sales"), "alice", project="sales/eu")
    remote.set_policy("models:/sales/eu/pricing", "production", {}, "alice")
    remote.promote("models:/sales/eu/pricing/1", "production", "alice")
    assert remote.get_model("pricing", project="sales/eu").aliases == {"production": 1}
    assert remote.alias_history("pricing", project="risk") == []
    assert remote.resolve_model("models:/sales/eu/pricing@production").content_hash == _content("sales").content_hash
    assert [v.project for v in remote.model_versions("models:/risk/pricing")] == ["risk"]
    with pytest.raises(AmbiguousModelError, match="'risk', 'sales/eu'"):
        remote.resolve_model("models:/pricing/1")
    with pytest.raises(AmbiguousModelError):
        remote.policies("pricing")


def test_a_blob_is_kept_only_under_its_own_hash(sqlite_uri, start_server, http, new_token, tmp_path):
    import hashlib
    import urllib.request

    from modeldb_core.artifact_store import ArtifactStore
    from modeldb_core.store import open_store
    from modeldb_core.store.http_store import HttpStore

    with open_store(sqlite_uri) as store:
        store.upgrade()
    token = new_token(sqlite_uri, "write")
    server = start_server(sqlite_uri)
    data = b"the bytes of a model"
    name = "sha256:" + hashlib.sha256(data).hexdigest()
    wrong = "sha256:" + hashlib.sha256(b"other bytes").hexdigest()

    status, answer = http("PUT", f"{server.url}/api/v1/artifacts/{wrong}", data, token=token)
    assert status == 400 and wrong in answer["error"]["message"] and answer["error"]["field"] == "body"
    assert http("GET", f"{server.url}/api/v1/artifacts/{wrong}", token=token)[0] == 404
    status, answer = http("PUT", f"{server.url}/api/v1/artifacts/not-a-hash", data, token=token)
    assert status == 400 and answer["error"]["field"] == "content hash"

    here = ArtifactStore(tmp_path / "here", remote=HttpStore(server.url, token=token))
    assert here.put_bytes(data, {"format": "pickle", "class": "sklearn.linear_model.Ridge"}).content_hash == name
    there = ArtifactStore(tmp_path / "there", remote=HttpStore(server.url, token=token))
    assert not there.exists(name)
    with there.open(name) as fh:  # pulled, checked, kept
        assert fh.read() == data
    assert there.exists(name) and there.verify(name)
    described = there.describe(name)  # as where it was made
    assert (described["format"], described["class"], described["pulled_from"]) == (
        "pickle", "sklearn.linear_model.Ridge", server.url)
    request = urllib.request.Request(f"{server.url}/api/v1/artifacts/{name}",
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as got:
        assert got.read() == data
    missing = "sha256:" + "1" * 64
    assert not HttpStore(server.url, token=token).pull_blob(there, missing)


def test_a_model_file_registered_here_loads_where_only_the_server_is_shared(sqlite_uri, start_server, new_token,
                                                                            tmp_path, monkeypatch):
    import pickle

    import modeldb_core as mdb
    from modeldb_core.store import open_store

    with open_store(sqlite_uri) as store:
        store.upgrade()
    token = new_token(sqlite_uri, "write")
    server = start_server(sqlite_uri)
    monkeypatch.setenv("MODELDB_TOKEN", token)
    model = tmp_path / "trainer" / "model.pkl"
    model.parent.mkdir()
    model.write_bytes(pickle.dumps({"coef": [1.5, -2.0]}))
    registered = CliRunner().invoke(cli, ["--uri", server.url, "models", "register", "pricing", "--artifact",
                                          str(model), "--json"], catch_exceptions=False)
    assert registered.exit_code == 0, registered.output
    model.unlink()  # the trainer's file is gone: the server has the only copy of its bytes

    client = mdb.configure(uri=server.url, artifacts=str(tmp_path / "serving-host"))
    try:
        assert mdb.load_model("models:/pricing/1") == {"coef": [1.5, -2.0]}
        assert mdb.load_model("models:/pricing/1") == {"coef": [1.5, -2.0]}  # from the local copy now
    finally:
        client.close()


def test_the_whole_audit_log_reads_through_the_server(sqlite_uri, start_server, new_token):
    from modeldb_core.store import open_store
    from modeldb_core.store.http_store import HttpStore

    with open_store(sqlite_uri) as store:
        store.upgrade()
        for n in range(1_100):  # more than one page of the default listing (1,000)
            store.register_model_version("pricing", _content(f"v{n}"), "alice")
        local = [(e.id, e.action, e.hash) for e in store.iter_audit()]
    server = start_server(sqlite_uri)
    remote = HttpStore(server.url, token=new_token(sqlite_uri, "read"))
    assert [(e.id, e.action, e.hash) for e in remote.iter_audit()] == local
    assert len(local) == 1_101 and len(remote.audit_events()) == 1_000
    assert remote.verify_audit().checked == 1_101


def _every_call(store) -> list:
    """Each registry, deployment and artifact call once, with what it answered or raised."""
    from modeldb_core.errors import ModelDBError

    answers = []

    def record(name, call):
        try:
            answers.append((name, call()))
        except ModelDBError as exc:
            answers.append((name, type(exc).__name__, str(exc), dict(vars(exc))))

    record("create", lambda: store.create_model("pricing", "alice", description="quotes", tags={"team": "a"},
                                                card={"risk_tier": "2"}))
    record("update", lambda: store.update_model("pricing", "alice", reason="owner", owner="bob"))
    record("update-bad", lambda: store.update_model("pricing", "alice", colour="red"))
    for label in ("a", "b", "a"):
        record("register", lambda label=label: store.register_model_version("pricing", _content(label), "alice"))
    record("versions", lambda: store.model_versions("pricing"))
    record("policy", lambda: store.set_policy("pricing", "production", {"approvals": {"count": 1}}, "alice"))
    record("policy-bad", lambda: store.set_policy("pricing", "production", {"thresholds": ["auc >= 2"]}, "alice"))
    record("refused", lambda: store.promote("models:/pricing/2", "production", "bob"))
    record("approve", lambda: store.approve("models:/pricing/2", "production", "carol", reason="looked"))
    record("promote", lambda: store.promote("models:/pricing/2", "production", "bob"))
    record("forced", lambda: store.promote("models:/pricing/1", "staging", "bob", reason="try", force=True))
    record("resolve", lambda: store.resolve_model("models:/pricing@production"))
    record("resolve-fast", lambda: store.resolve_model("models:/pricing/1", detail=False))
    record("resolve-bad", lambda: store.resolve_model("models:/pricing/0"))
    record("unknown", lambda: store.get_model("nosuch"))
    record("models", lambda: store.list_models())
    record("policies", lambda: (store.policies("pricing"), store.get_policy("pricing", "staging")))
    record("approvals", lambda: store.approvals("pricing"))
    record("history", lambda: (store.alias_history("pricing"), store.alias_history("pricing", "staging")))
    record("deploy", lambda: store.record_deployment("models:/pricing@production", "prod", "alice",
                                                     endpoint="https://user:secret@pricing.internal"))
    record("canary", lambda: store.record_deployment("models:/pricing/1", "prod", "alice", traffic=0.1))
    record("canary-bad", lambda: store.record_deployment("models:/pricing/1", "prod", "alice", traffic=2))
    record("degrade", lambda: store.mark_degraded(1, "drift", "monitor"))
    record("restore", lambda: store.restore_deployment(1, "fixed", "alice"))
    record("one", lambda: (store.get_deployment(1), store.get_deployment("1")))
    record("none", lambda: store.get_deployment(99))
    record("serving", lambda: store.deployments(model="pricing", environment="prod"))
    record("retire", lambda: store.retire_deployment("models:/pricing", "alice", environment="prod"))
    record("retire-again", lambda: store.retire_deployment(2, "alice"))
    record("all", lambda: store.deployments(history=True))
    record("artifacts", lambda: store.find_artifact_versions(_content("a").content_hash))
    record("artifact", lambda: store.get_artifact_version(1))
    record("audit", lambda: (store.audit_events("models:/pricing", limit=5), store.verify_audit()))
    return answers


def test_every_call_answers_as_the_store_behind_the_server_does(two_stores, start_server):
    from modeldb_core.store import open_store
    from modeldb_core.store.http_store import HttpStore

    local_uri, served_uri = two_stores
    for uri in two_stores:
        with open_store(uri) as store:
            store.upgrade()
    # Without tokens: the server records the actor each call names, as the local store does (with
    # tokens it records the token's name: test_the_audit_actor_of_a_remote_write_is_the_tokens_owner).
    server = start_server(served_uri, no_auth=True)
    with open_store(local_uri) as local:
        here = _every_call(local)
    there = _every_call(HttpStore(server.url))
    assert [a[0] for a in there] == [a[0] for a in here]
    for mine, theirs in zip(here, there, strict=True):
        assert _stable(_plain(theirs)) == _stable(_plain(mine)), mine[0]
    kinds = {a[0]: a[1] for a in there if len(a) == 4}
    assert kinds == {"update-bad": "ValidationError", "policy-bad": "ValidationError",
                     "refused": "PromotionRefusedError", "resolve-bad": "ValidationError",
                     "unknown": "NotFoundError", "canary-bad": "ValidationError", "none": "NotFoundError",
                     "retire-again": "NotFoundError"}


def _plain(value):
    """Dataclasses as dicts, tuples as lists: what ``_stable`` compares."""
    import dataclasses

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
