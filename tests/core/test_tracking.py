"""@tracked_task and the Light API against real SQLite and PostgreSQL stores."""
from __future__ import annotations

import asyncio
import logging
import time
import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import modeldb_core as mdb
from modeldb_core.errors import ParamConflictError, ValidationError


def _only_run(client, name):
    runs = [r for r in client.store.list_runs(limit=1000) if r.name == name]
    assert len(runs) == 1, runs
    return client.store.get_run_detail(runs[0].id)


def test_tracked_task_records_params_metrics_code_and_environment(tracking):
    @mdb.tracked_task(project="pricing", phase="training")
    def train(model, depth=5, lr=0.1, seed=42):
        mdb.log_metric("rmse", 0.81)
        mdb.set_tag("team", "pricing")
        mdb.add_note("version 61: drop fireplacecnt")
        return {"score": 0.9}

    assert train("rf", depth=7) == {"score": 0.9}
    detail = _only_run(tracking, "test_tracked_task_records_params_metrics_code_and_environment.<locals>.train")
    run = detail.run
    assert (run.status, run.phase, run.project) == ("succeeded", "training", "pricing")
    assert detail.params == {"model": "rf", "depth": 7, "lr": 0.1, "seed": 42}
    assert detail.metrics == {"rmse": 0.81}
    assert detail.tags == {"team": "pricing"}
    assert [n.text for n in detail.notes] == ["version 61: drop fireplacecnt"]
    assert run.ended_at >= run.started_at and run.duration < 5
    assert run.pid == os.getpid() and run.host and run.orchestrator == "python"
    assert detail.code_version.function.endswith("train")
    assert detail.code_version.source_file == os.path.abspath(__file__)
    assert detail.code_version.source_hash.startswith("sha256:")
    assert detail.environment.python_version == ".".join(map(str, sys.version_info[:3]))
    assert "sqlalchemy" in detail.environment.packages


def test_failure_passes_through_unchanged_and_is_recorded(tracking):
    boom = ValueError("bad fold")

    @mdb.tracked_task
    def fit():
        raise boom

    with pytest.raises(ValueError) as raised:
        fit()
    assert raised.value is boom
    detail = _only_run(tracking, "test_failure_passes_through_unchanged_and_is_recorded.<locals>.fit")
    assert detail.run.status == "failed"
    assert detail.run.error_type == "ValueError"
    assert detail.run.error_message == "bad fold"
    assert "raise boom" in detail.run.error_traceback


def test_keyboard_interrupt_propagates_and_run_is_killed(tracking):
    @mdb.tracked_task(name="interrupted")
    def work():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        work()
    assert _only_run(tracking, "interrupted").run.status == "killed"


def test_nested_tasks_get_parent_and_share_a_pipeline_run(tracking):
    @mdb.tracked_task(name="child")
    def child(x):
        return x + 1

    @mdb.tracked_task(name="parent")
    def parent():
        return child(1) + child(2)

    assert parent() == 5
    runs = tracking.store.list_runs()
    top = [r for r in runs if r.name == "parent"][0]
    kids = [r for r in runs if r.name == "child"]
    assert len(kids) == 2
    assert {k.parent_run_id for k in kids} == {top.id}
    assert {k.pipeline_run_id for k in kids} == {top.pipeline_run_id} and top.pipeline_run_id
    assert tracking.store.get_run_detail(top.id).children == sorted(k.id for k in kids)


def test_arrays_and_files_become_artifacts_joined_in_lineage(tracking, tmp_path):
    source = tmp_path / "raw.csv"
    source.write_text("a,b\n1,2\n3,4\n")

    @mdb.tracked_task(name="load")
    def load(path):
        return np.loadtxt(path, delimiter=",", skiprows=1)

    @mdb.tracked_task(name="scale")
    def scale(matrix, factor=2.0):
        return matrix * factor

    scale(load(str(source)))
    load_run = _only_run(tracking, "load")
    scale_run = _only_run(tracking, "scale")
    assert load_run.inputs[0].artifact.uri == f"file://{source}"
    assert load_run.inputs[0].artifact.size == source.stat().st_size
    produced = load_run.outputs[0].artifact
    consumed = scale_run.inputs[0].artifact
    assert produced.id == consumed.id and produced.kind == "ndarray"
    assert produced.metadata == {"shape": [2, 2], "dtype": "float64"}
    assert scale_run.params["matrix"].startswith("<ndarray sha256:")
    graph = tracking.store.lineage(f"run:{scale_run.run.id}", "up", 5)
    assert {n.label for n in graph.nodes if n.kind == "run"} == {"scale", "load"}
    down = tracking.store.lineage(f"run:{load_run.run.id}", "down", 5)
    assert "scale" in {n.label for n in down.nodes}


def test_declared_outputs_by_parameter_name_are_hashed_after_the_call(tracking, tmp_path):
    target = tmp_path / "model.json"

    @mdb.tracked_task(name="save", outputs=["path"])
    def save(path):
        with open(path, "w") as fh:
            fh.write('{"w": 1}')

    save(str(target))
    detail = _only_run(tracking, "save")
    [out] = detail.outputs
    assert out.name == "path" and out.artifact.uri == f"file://{target}"
    import hashlib
    assert out.artifact.content_hash == "sha256:" + hashlib.sha256(b'{"w": 1}').hexdigest()


def test_async_functions_are_tracked(tracking):
    @mdb.tracked_task(name="fetch")
    async def fetch(n):
        await asyncio.sleep(0)
        mdb.log_metric("items", n)
        return n * 2

    assert asyncio.run(fetch(3)) == 6
    detail = _only_run(tracking, "fetch")
    assert detail.run.status == "succeeded" and detail.metrics == {"items": 3.0}


def test_light_api_and_metric_series(tracking):
    with mdb.start_run("notebook", project="nb", phase="training", params={"alpha": 0.5}) as run:
        for step in range(2000):
            run.log_metric("loss", 1.0 / (step + 1))
        run.log_metric("odd", math.nan)
        run.log_metric("odd", math.inf)
        run.log_metric("neg", -math.inf)
    history = tracking.store.metric_history(run.id, "loss")
    assert [m.step for m in history] == list(range(2000))
    assert history[-1].value == pytest.approx(1 / 2000)
    detail = tracking.store.get_run_detail(run.id)
    assert detail.metrics["odd"] == math.inf and detail.metrics["neg"] == -math.inf
    assert math.isnan(detail.metric_history["odd"][0].value)
    assert detail.params == {"alpha": 0.5}


def test_param_logged_twice(tracking):
    with mdb.start_run("twice") as run:
        run.log_param("lr", 0.1)
        run.log_param("lr", 0.1)  # the same value again is fine
        with pytest.raises(ParamConflictError, match=r"params\.lr.*0\.1"):
            run.log_param("lr", 0.2)
    assert tracking.store.get_run_detail(run.id).params == {"lr": 0.1}


def test_non_json_values_follow_the_documented_rule(tracking):
    class Opaque:
        pass

    @mdb.tracked_task(name="odd_args")
    def odd(obj, values=(1, 2), nested=None):
        return None

    odd(Opaque(), nested={"a": [1, {"b": None}]})
    params = _only_run(tracking, "odd_args").params
    assert params["obj"].startswith("<tests.core.test_tracking.") or params["obj"].startswith("<")
    assert "0x" not in params["obj"] and "Opaque object" in params["obj"]
    assert params["values"] == [1, 2]
    assert params["nested"] == {"a": [1, {"b": None}]}


def test_seed_everything_is_recorded(tracking):
    mdb.seed_everything(1234)
    first = np.random.rand()
    mdb.seed_everything(1234)
    assert np.random.rand() == first

    @mdb.tracked_task(name="seeded")
    def seeded():
        return None

    seeded()
    assert _only_run(tracking, "seeded").params["seed_everything"] == 1234


def test_unreachable_store_never_breaks_the_task(caplog):
    client = mdb.configure(uri="postgresql+psycopg://nobody@127.0.0.1:1/none")
    try:
        @mdb.tracked_task
        def add(a, b):
            mdb.log_metric("x", 1)
            return a + b

        @mdb.tracked_task
        def fails():
            raise RuntimeError("own error")

        with caplog.at_level(logging.WARNING, logger="modeldb"):
            assert add(1, 2) == 3
            assert add(2, 2) == 4
            with pytest.raises(RuntimeError, match="own error"):
                fails()
            assert not client.flush(timeout=3)  # the writer keeps trying in the background
            time.sleep(1.5)  # ... through a few backoff rounds
        warnings = [r for r in caplog.records if "cannot write to its store" in r.getMessage()]
        assert len(warnings) == 1, "a dead store is reported once, not per call or per retry"
        # Nothing is lost: the three runs wait in the journal.
        journal = client.runtime.journal_path
        assert journal is not None and journal.stat().st_size > 0
    finally:
        client.close()


def test_disabled_tracking_is_a_no_op(tmp_path, monkeypatch):
    db = tmp_path / "never.db"
    monkeypatch.setenv("MODELDB_DISABLED", "1")
    client = mdb.configure(uri=f"sqlite:///{db}")

    @mdb.tracked_task
    def f(x):
        mdb.log_metric("m", 1)
        return x

    assert f(5) == 5
    client.close()
    assert not db.exists()


def test_killed_process_is_reaped(tracking, tmp_path):
    script = textwrap.dedent(f"""
        import os, signal, modeldb_core as mdb
        mdb.configure(uri={tracking.settings.uri!r})
        run = mdb.start_run("doomed")
        assert mdb.flush(60)  # in the store, running
        print(run.id, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    run_id = done.stdout.split()[0]
    assert tracking.store.get_run(run_id).status == "running"
    assert run_id in tracking.reap()
    run = tracking.store.get_run(run_id)
    assert run.status == "killed" and run.ended_at is not None


def test_git_state_is_captured(tracking, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.email=a@b", "-c", "user.name=a"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    module = repo / "steps.py"
    module.write_text("import modeldb_core as mdb\n\n@mdb.tracked_task(name='step')\ndef step():\n    return 1\n")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "first"], check=True)
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    with open(module, "a") as fh:
        fh.write("# edited\n")
    import importlib.util
    spec = importlib.util.spec_from_file_location("steps_under_git", module)
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    loaded.step()
    code = _only_run(tracking, "step").code_version
    assert code.git_commit == commit and code.git_branch == "main"
    assert code.git_dirty is True and code.git_diff_hash.startswith("sha256:")
    assert code.repo_path == str(repo)


def test_bad_input_is_refused_and_nothing_half_written(tracking):
    with mdb.start_run("validated") as run:
        with pytest.raises(ValidationError, match="params key"):
            run.log_params({"good": 1, "": 2})
        with pytest.raises(ValidationError, match=r"metrics\.loss.*real number"):
            run.log_metric("loss", "0.5")
        with pytest.raises(ValidationError, match="metrics key.*NUL"):
            run.log_metric("lo\x00ss", 1.0)
        with pytest.raises(ValidationError, match="250"):
            run.set_tag("k" * 251, "v")
        with pytest.raises(ValidationError, match=r"\.\."):
            run.log_input("s3://bucket/a/../b.csv")
        run.log_param("ключ-€", "значение")
    detail = tracking.store.get_run_detail(run.id)
    assert detail.params == {"ключ-€": "значение"}
    assert detail.metrics == {} and detail.tags == {} and detail.inputs == []


def test_large_folders_are_fingerprinted_by_listing(tmp_path, monkeypatch):
    from modeldb_core import fingerprint as fp

    folder = tmp_path / "lake"
    folder.mkdir()
    for i in range(5):
        (folder / f"part-{i}.csv").write_text(f"{i}\n")
    small = fp.fingerprint(folder)
    assert small.fingerprint_method == "full" and small.metadata == {"files": 5} and small.size == 10
    monkeypatch.setattr(fp, "DIRECTORY_FILE_LIMIT", 3)
    big = fp.fingerprint(folder)
    assert big.fingerprint_method == "listing" and big.kind == "directory"
    (folder / "part-0.csv").write_text("changed, longer\n")
    assert fp.fingerprint(folder).content_hash != big.content_hash


class Model:
    def __init__(self, w):
        self.w = w


def test_value_versions_name_any_value_by_content():
    from modeldb_core import fingerprint as fp

    scores = fp.value_version({"rmse": 0.8, "r2": 0.9})
    assert scores.kind == "json" and scores.uri.startswith("value:json/")
    assert fp.value_version({"r2": 0.9, "rmse": 0.8}).content_hash == scores.content_hash

    model = fp.value_version(Model([1, 2]))
    assert model.kind == "object" and model.fingerprint_method == "pickle"
    assert fp.value_version(Model([1, 3])).content_hash != model.content_hash
    assert fp.value_version(lambda: 1) is None, "an unpicklable value gets no version"
    assert fp.value_version(np.arange(3)).kind == "ndarray"
