"""``modeldb reproduce`` / ``mdb.reproduce`` on runs made from a real git repository."""
from __future__ import annotations

import json

import pytest

import modeldb_core as mdb
from modeldb_core.errors import ReproductionBlockedError

from .conftest import git


def test_a_seeded_run_reproduces_bit_identical(project):
    project.run("train('data.txt', 'out/model.txt')")
    run_id = project.last_run("train")

    plan = mdb.reproduce(run_id, dry_run=True)
    assert plan.reproducible, plan.blockers
    assert plan.entry_point == "models:train"
    assert plan.commit == git(project.root, "rev-parse", "HEAD").strip()
    assert plan.seed == {"param": "seed", "value": 3}
    assert [(i.name, i.source) for i in plan.inputs] == [("data_path", "original")]

    verdict = mdb.reproduce(run_id)
    assert verdict.verdict == "identical", verdict.differences
    assert set(verdict.identical_outputs) & {"out_path", "return"}
    store = mdb.get_client().store
    of, _ = store.reproductions(verdict.reproduction_run_id)
    assert of.original_run_id == run_id and of.verdict == "identical"
    _, reproductions = store.reproductions(run_id)
    assert [r.run_id for r in reproductions] == [verdict.reproduction_run_id]
    graph = store.lineage(f"run:{run_id}", direction="down", depth=2)
    assert any(e.source == f"run:{run_id}" and e.target == f"run:{verdict.reproduction_run_id}" for e in graph.edges)
    graph = store.lineage(f"run:{verdict.reproduction_run_id}", direction="up", depth=1)
    assert f"run:{run_id}" in {f"{n.kind}:{n.id}" for n in graph.nodes}
    # The original output file was not touched: the re-run wrote into its own folder.
    assert (project.root / "out" / "model.txt").read_text().startswith("20.")


def test_a_run_from_a_dirty_tree_reproduces_with_its_diff(project):
    models = project.root / "models.py"
    models.write_text(models.read_text().replace("scale: float = 2.0, seed: int = 3", "scale: float = 5.0, seed: int = 3"))
    project.run("train('data.txt', 'out/model.txt')")
    run_id = project.last_run("train")
    git(project.root, "checkout", "models.py")  # the edit is gone from the working tree

    plan = mdb.reproduce(run_id, dry_run=True)
    assert plan.dirty and plan.diff and plan.reproducible
    verdict = mdb.reproduce(run_id)
    assert verdict.verdict == "identical", verdict.differences
    detail = mdb.get_client().store.get_run_detail(verdict.reproduction_run_id)
    assert detail.params["scale"] == 5.0


def test_an_edited_input_blocks_reproduction_unless_snapshotted(project, sqlite_uri):
    project.run("train('data.txt', 'out/model.txt')")
    plain = project.last_run("train")
    project.run("train_snapshotted('data.txt', 'out/snap.txt')")
    snapshotted = project.last_run("train_snapshotted")
    (project.root / "data.txt").write_text("10 20 30 40\n")

    plan = mdb.reproduce(plain, dry_run=True)
    assert [i.source for i in plan.inputs] == ["changed"]
    with pytest.raises(ReproductionBlockedError) as refused:
        mdb.reproduce(plain)
    message = str(refused.value)
    assert "'data_path'" in message and "has changed since the run" in message and "snapshot_inputs=True" in message

    plan = mdb.reproduce(snapshotted, dry_run=True)
    assert [i.source for i in plan.inputs] == ["snapshot"] and plan.reproducible
    verdict = mdb.reproduce(snapshotted)
    assert verdict.verdict == "identical", verdict.differences


def test_an_unseeded_run_is_different_with_unseeded_randomness_as_cause(project):
    project.run("unseeded('data.txt', 'out/u.txt')")
    run_id = project.last_run("unseeded")
    plan = mdb.reproduce(run_id, dry_run=True)
    assert plan.unseeded and plan.seed is None

    verdict = mdb.reproduce(run_id)
    assert verdict.verdict == "different"
    assert {d.name for d in verdict.differences} & {"out_path", "return"} and "total" in {d.name for d in verdict.differences}
    total = next(d for d in verdict.differences if d.name == "total")
    assert total.delta is not None and total.delta != 0
    assert verdict.likely_causes[0].startswith("unseeded randomness")


def test_cli_dry_run_and_reproduce(project, modeldb):
    project.run("train('data.txt', 'out/model.txt')")
    run_id = project.last_run("train")
    code, out, _ = modeldb("--uri", project.uri, "reproduce", run_id, "--dry-run", "--json")
    assert code == 0
    plan = json.loads(out)
    assert plan["entry_point"] == "models:train" and plan["reproducible"] is True
    code, out, _ = modeldb("--uri", project.uri, "reproduce", run_id, "--dry-run")
    assert code == 0 and "models:train" in out and "original (hash verified)" in out
    code, out, _ = modeldb("--uri", project.uri, "reproduce", run_id)
    assert code == 0, out
    assert "identical" in out
    code, out, _ = modeldb("--uri", project.uri, "runs", "show", run_id)
    assert "Reproductions" in out and "identical" in out


def test_a_scikit_learn_fit_is_refit_from_its_recorded_params_and_data(tracking):
    import numpy as np
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.linear_model import Ridge

    from modeldb_core.sklearn import autolog, run_of

    autolog(project="repro-sklearn")
    try:
        rng = np.random.default_rng(0)
        X, y = rng.normal(size=(200, 4)), rng.normal(size=200)
        seeded = RandomForestRegressor(n_estimators=5, random_state=1).fit(X, y)
        unseeded = RandomForestRegressor(n_estimators=5).fit(X, y)
        ridge = Ridge(alpha=0.5).fit(X, y)
        seeded_run, unseeded_run, ridge_run = (run_of(m).id for m in (seeded, unseeded, ridge))
    finally:
        autolog(disable=True)

    plan = mdb.reproduce(seeded_run, dry_run=True)
    assert plan.kind == "sklearn" and plan.reproducible and not plan.unseeded
    assert [i.source for i in plan.inputs] == ["snapshot", "snapshot"]
    for run_id in (seeded_run, ridge_run):
        verdict = mdb.reproduce(run_id)
        assert verdict.verdict == "identical", verdict.differences
        assert "model" in verdict.identical_outputs

    assert mdb.reproduce(unseeded_run, dry_run=True).unseeded
    verdict = mdb.reproduce(unseeded_run)
    assert verdict.verdict in ("different", "within_tolerance")
    assert "model" in {d.name for d in verdict.differences}
    assert verdict.likely_causes[0].startswith("unseeded randomness")


def test_upstream_runs_make_missing_inputs_again(project, modeldb):
    project.run("prepare('data.txt', 'out/prepared.txt')")
    project.run("train('out/prepared.txt', 'out/model.txt')")
    prepared, trained = project.last_run("prepare"), project.last_run("train")
    (project.root / "out" / "prepared.txt").unlink()

    plan = mdb.reproduce(trained, dry_run=True)
    assert [i.source for i in plan.inputs] == ["missing"] and not plan.reproducible
    plan = mdb.reproduce(trained, dry_run=True, upstream=True)
    assert plan.reproducible, plan.blockers
    assert [(i.source, i.producer) for i in plan.inputs] == [("upstream", prepared)]
    assert [u.run_id for u in plan.upstream] == [prepared]

    code, out, _ = modeldb("--uri", project.uri, "reproduce", trained, "--upstream")
    assert code == 0, out
    assert f"upstream run {prepared} reproduced first" in out and ": identical" in out
    assert not (project.root / "out" / "prepared.txt").exists()  # made again in the work folder only


def test_a_function_in_an_untracked_file_reproduces(project):
    (project.root / "scratch.py").write_text(
        "from pathlib import Path\n\nfrom modeldb_core import log_metric, tracked_task\n\n\n"
        "@tracked_task(project='repro')\n"
        "def count(data_path: str) -> int:\n"
        "    n = len(Path(data_path).read_text().split())\n"
        "    log_metric('n', n)\n"
        "    return n\n")
    done = __import__("subprocess").run(
        [__import__("sys").executable, "-c", "import scratch; scratch.count('data.txt')"], cwd=project.root,
        env={**__import__("os").environ, "MODELDB_URI": project.uri, "PYTHONPATH": str(project.root)},
        capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    run_id = project.last_run("count")
    plan = mdb.reproduce(run_id, dry_run=True)
    assert plan.dirty and plan.diff and plan.reproducible, plan.blockers
    (project.root / "scratch.py").unlink()  # gone from the tree: the captured diff brings it back
    verdict = mdb.reproduce(run_id)
    assert verdict.verdict == "identical", (verdict.differences, verdict.error)


def test_same_metrics_other_bytes_is_within_tolerance_naming_the_outputs(project, modeldb):
    project.run("stamped('data.txt', 'out/stamped.txt')")
    run_id = project.last_run("stamped")
    verdict = mdb.reproduce(run_id)
    assert verdict.verdict == "within_tolerance"
    assert {d.name for d in verdict.differences} & {"out_path", "return"}
    assert all(d.kind == "output" for d in verdict.differences)
    assert not any(c.startswith("unseeded") for c in verdict.likely_causes)
    code, out, _ = modeldb("--uri", project.uri, "runs", "show", run_id)
    assert "within_tolerance" in out


def test_training_data_over_the_fit_data_cap_is_not_kept_and_the_plan_says_which_setting(store_uri, monkeypatch):
    import numpy as np
    from sklearn.linear_model import Ridge

    from modeldb_core.artifact_store import ArtifactStore
    from modeldb_core.sklearn import autolog, run_of

    monkeypatch.setenv("MODELDB_FIT_DATA_MAX_BYTES", "4096")  # X is 6400 bytes, y 1600
    client = mdb.configure(uri=store_uri)
    try:
        autolog(project="repro-sklearn")
        try:
            rng = np.random.default_rng(0)
            X, y = rng.normal(size=(200, 4)), rng.normal(size=200)
            run_id = run_of(Ridge(alpha=0.5).fit(X, y)).id
        finally:
            autolog(disable=True)
        client.flush()
        fit = client.store.run_recipe(run_id)["sklearn"]
        assert set(fit["snapshots"]) == {"y_train"} and fit["not_kept"] == {"X_train": 6400}
        assert ArtifactStore(client.settings.artifacts).exists(fit["snapshots"]["y_train"])
        plan = mdb.reproduce(run_id, dry_run=True)
        [blocker] = plan.blockers
        assert blocker.problem.startswith("the training data input 'X_train' (value:")
        assert blocker.problem.endswith("was not kept (6400 bytes)")
        assert "MODELDB_FIT_DATA_MAX_BYTES" in blocker.fix and "6400" in blocker.fix
    finally:
        client.close()
