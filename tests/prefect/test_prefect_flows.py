"""Real Prefect 3.9 flows, run against the session's Prefect test server, tracked into real stores."""
from __future__ import annotations

import dataclasses
import json
import logging
import os
from typing import NamedTuple

import pandas as pd
import pytest
from prefect import flow, task
from prefect.states import Cancelled

import modeldb_core
from modeldb_core.integrations.prefect import track, tracked_flow


# -- helpers -------------------------------------------------------------------
@pytest.fixture
def sqlite_tracking(sqlite_uri):
    client = modeldb_core.configure(uri=sqlite_uri)
    yield client
    client.close()


def flow_run_id(state) -> str:
    return str(state.state_details.flow_run_id)


def task_runs(client, state, name=None):
    """The runs of one flow run, found through the query layer, oldest first."""
    page = modeldb_core.search_runs(f'tags."prefect.flow_run_id" = "{flow_run_id(state)}"',
                                    order_by="id", limit=1000, store=client.store)
    return [client.store.get_run_detail(r.id) for r in page.runs if name is None or r.name == name]


class _PipelineRunView(NamedTuple):
    name: str
    orchestrator: str
    structure: str
    status: str
    ended_at: float | None


def pipeline_run(client, state) -> _PipelineRunView:
    """(pipeline name, orchestrator, structure as JSON, pipeline run status, ended) of a flow run."""
    [(run, pipeline)] = client.store.pipeline_runs(external_id=flow_run_id(state))
    return _PipelineRunView(pipeline.name, pipeline.orchestrator, json.dumps(pipeline.structure),
                            run.status, run.ended_at)


# -- a data prep -> features -> train flow --------------------------------------
@task
def prepare(raw_path: str, out_path: str, min_price: float = 100.0) -> str:
    frame = pd.read_csv(raw_path)
    frame[frame.price >= min_price].to_csv(out_path, index=False)
    return out_path


@task
def featurize(prepared_path: str, squared: bool = True) -> pd.DataFrame:
    frame = pd.read_csv(prepared_path)
    frame["area_sq"] = frame.area ** 2 if squared else frame.area
    return frame


@task
def train(features: pd.DataFrame, model_path: str, alpha: float = 0.5) -> dict:
    slope = float((features.price / features.area).mean())
    modeldb_core.log_metric("rmse", 12.5)
    with open(model_path, "w") as fh:
        fh.write(f"slope={slope} alpha={alpha}\n")
    return {"slope": slope, "rows": len(features)}


@flow
def house_prices(raw_path: str, work_dir: str) -> dict:
    prepared = prepare(raw_path, os.path.join(work_dir, "prepared.csv"))
    features = featurize(prepared)
    return train(features, os.path.join(work_dir, "model.txt"))


tracked_house_prices = track(
    house_prices, project="houses", phase="data_prep",
    phases={"featurize": "feature_engineering", "train": "training"},
    inputs={"prepare": ["warehouse://sales.listings"]}, outputs={"train": ["model_path"]})


def test_prep_features_train_flow_with_lineage_through_the_query_layer(tracking, tmp_path):
    raw = tmp_path / "raw.csv"
    raw.write_text("area,price\n50,90\n60,150\n80,200\n")

    state = tracked_house_prices(str(raw), str(tmp_path), return_state=True)

    assert state.is_completed()
    assert state.result() == {"slope": 2.5, "rows": 2}
    name, orchestrator, structure, status, ended = pipeline_run(tracking, state)
    assert (name, orchestrator, status) == ("house-prices", "prefect", "succeeded") and ended
    assert '"prepare"' in structure and '"train"' in structure and house_prices.version in structure

    runs = {d.run.name: d for d in task_runs(tracking, state)}
    assert sorted(runs) == ["featurize", "prepare", "train"]
    for detail in runs.values():
        run = detail.run
        assert (run.status, run.orchestrator, run.project, run.try_number) == ("succeeded", "prefect", "houses", 1)
        assert run.external_id == detail.tags["prefect.task_run_id"]
        assert detail.tags["prefect.flow_run_id"] == flow_run_id(state)
        assert detail.tags["prefect.state"] == "Completed"
    assert len({d.run.pipeline_run_id for d in runs.values()}) == 1
    assert {n: d.run.phase for n, d in runs.items()} == {
        "prepare": "data_prep", "featurize": "feature_engineering", "train": "training"}
    # Actual parameters, defaults included; paths are recorded as the file they name.
    assert runs["prepare"].params == {"raw_path": f"file://{raw}", "out_path": str(tmp_path / "prepared.csv"),
                                      "min_price": 100.0}
    assert runs["featurize"].params["squared"] is True
    assert runs["train"].params["alpha"] == 0.5
    assert runs["train"].metrics == {"rmse": 12.5}
    assert runs["prepare"].code_version.function.endswith("prepare")

    def uris(ios):
        return {(io.name, io.artifact.uri) for io in ios}

    assert uris(runs["prepare"].inputs) == {("raw_path", f"file://{raw}"), (None, "warehouse://sales.listings")}
    assert uris(runs["prepare"].outputs) == {("return", f"file://{tmp_path}/prepared.csv")}
    assert ("prepared_path", f"file://{tmp_path}/prepared.csv") in uris(runs["featurize"].inputs)
    [frame_out] = runs["featurize"].outputs
    assert frame_out.artifact.kind == "dataframe" and frame_out.artifact.metadata["shape"] == [2, 3]
    assert ("features", frame_out.artifact.uri) in uris(runs["train"].inputs)
    assert ("model_path", f"file://{tmp_path}/model.txt") in uris(runs["train"].outputs)

    # The query a user runs: what does the trained model come from?
    graph = tracking.store.lineage(f"run:{runs['train'].run.id}", direction="up")
    labels = {n.label for n in graph.nodes}
    assert {"train", "featurize", "prepare"} <= labels
    assert any(label.startswith(f"file://{raw}@") for label in labels)
    assert any(label.startswith("warehouse://sales.listings@") for label in labels)
    frame_node = next(n for n in graph.nodes if n.label.startswith(frame_out.artifact.uri))
    prepare_node = next(n for n in graph.nodes if n.label == "prepare")
    assert (f"run:{runs['featurize'].run.id}", f"artifact:{frame_node.id}") in {
        (e.source, e.target) for e in graph.edges}
    assert prepare_node.depth == 4  # train <- frame <- featurize <- prepared.csv <- prepare


# -- failures, retries, crashes, cancellation ---------------------------------
@task
def explode(rows: int = 3):
    raise ValueError(f"cannot split {rows} rows")


@flow
def failing_flow():
    return explode()


def test_failing_task_is_a_failed_run_and_the_flow_state_is_unchanged(sqlite_tracking):
    untracked = failing_flow(return_state=True)
    state = track(failing_flow, project="fails")(return_state=True)

    assert state.is_failed() and untracked.is_failed()
    assert state.name == untracked.name
    with pytest.raises(ValueError, match="cannot split 3 rows"):
        state.result()
    [detail] = task_runs(sqlite_tracking, state)
    assert detail.run.status == "failed"
    assert detail.params == {"rows": 3}
    assert detail.run.error_type == "ValueError"
    assert detail.run.error_message == "cannot split 3 rows"
    assert "raise ValueError" in detail.run.error_traceback
    assert detail.outputs == []
    assert pipeline_run(sqlite_tracking, state).status == "failed"


attempts: dict[str, int] = {}


@task(retries=2)
def flaky_now(key: str) -> int:
    attempts[key] = attempts.get(key, 0) + 1
    if attempts[key] == 1:
        raise ConnectionError("feature store timed out")
    return 7


@task(retries=1, retry_delay_seconds=0.2)
def flaky_later(key: str) -> int:
    attempts[key] = attempts.get(key, 0) + 1
    if attempts[key] == 1:
        raise TimeoutError("warehouse busy")
    return 8


@tracked_flow(project="retries")
@flow
def retrying_flow(key: str) -> int:
    return flaky_now(key + "-now") + flaky_later(key + "-later")


def test_each_retry_attempt_is_a_run_and_the_retry_is_not_a_final_failure(tracking, store_uri):
    state = retrying_flow(store_uri, return_state=True)  # a key of its own for each database

    assert state.result() == 15
    assert pipeline_run(tracking, state).status == "succeeded"
    for name, error_type, message in (("flaky_now", "ConnectionError", "feature store timed out"),
                                      ("flaky_later", "TimeoutError", "warehouse busy")):
        first, second = task_runs(tracking, state, name)
        assert (first.run.try_number, first.run.status) == (1, "failed")
        assert (second.run.try_number, second.run.status) == (2, "succeeded")
        assert first.run.external_id == second.run.external_id  # one Prefect task run
        assert (first.run.error_type, first.run.error_message) == (error_type, message)
        assert first.tags["prefect.retried"] == "true"
        assert "prefect.retried" not in second.tags
        assert second.params == first.params
        assert second.outputs and not first.outputs


@task
def interrupted():
    raise SystemExit(3)


@task
def over_budget():
    return Cancelled(message="budget exceeded")


@task
def fine() -> int:
    return 1


@flow
def crashing_flow():
    fine()
    interrupted()


@flow
def cancelling_flow():
    fine()
    over_budget()
    return 1


def test_crashed_task_run_is_killed_with_the_reason(sqlite_tracking):
    with pytest.raises(SystemExit):
        track(crashing_flow, project="crash")()
    runs = {r.name: sqlite_tracking.store.get_run_detail(r.id)
            for r in modeldb_core.search_runs(project="crash", store=sqlite_tracking.store).runs}
    assert runs["fine"].run.status == "succeeded"
    crashed = runs["interrupted"].run
    assert crashed.status == "killed"
    assert "system exit" in crashed.error_message
    assert runs["interrupted"].tags["prefect.state"] == "Crashed"
    _, _, _, status, ended = pipeline_run(sqlite_tracking, _state_of(crashed))
    assert status == "killed" and ended


def _state_of(run):
    """A stand-in for a flow state, to look a pipeline run up by the run's flow run id."""
    class _Details:
        flow_run_id = None

    class _State:
        state_details = _Details()

    detail = modeldb_core.get_client().store.get_run_detail(run.id)
    _State.state_details.flow_run_id = detail.tags["prefect.flow_run_id"]
    return _State()


def test_cancelled_task_run_is_killed_with_the_reason(sqlite_tracking):
    state = track(cancelling_flow, project="cancel")(return_state=True)
    assert state.is_completed() and state.result() == 1
    runs = {d.run.name: d for d in task_runs(sqlite_tracking, state)}
    assert runs["fine"].run.status == "succeeded"
    assert runs["over_budget"].run.status == "killed"
    assert runs["over_budget"].run.error_message == "budget exceeded"
    assert runs["over_budget"].tags["prefect.state"] == "Cancelled"
    assert pipeline_run(sqlite_tracking, state).status == "succeeded"


# -- mapped tasks -------------------------------------------------------------
@task
def shards(n: int) -> list[int]:
    return list(range(1, n + 1))


@task
def square(x: int, offset: int = 0) -> int:
    return x * x + offset


@tracked_flow(project="mapped", phase="feature_engineering")
@flow
def mapped_flow(n: int = 3) -> list[int]:
    numbers = shards.submit(n)
    return [f.result() for f in square.map(numbers)]


def test_mapped_task_runs_are_one_run_each_with_lineage_to_the_upstream(tracking):
    state = mapped_flow(return_state=True)
    assert state.result() == [1, 4, 9]
    [upstream] = task_runs(tracking, state, "shards")
    mapped = task_runs(tracking, state, "square")
    assert len(mapped) == 3
    assert len({d.run.external_id for d in mapped}) == 3
    assert sorted(d.params["x"] for d in mapped) == [1, 2, 3]
    assert all(d.params["offset"] == 0 and d.run.phase == "feature_engineering" for d in mapped)
    produced = {io.artifact.id for io in upstream.outputs}
    assert len(produced) == 1
    for detail in mapped:
        assert {io.artifact.id for io in detail.inputs if io.name == "x"} == produced
        graph = tracking.store.lineage(f"run:{detail.run.id}", direction="up")
        assert f"run:{upstream.run.id}" in {f"{n.kind}:{n.id}" for n in graph.nodes}


# -- tracking never breaks the flow -------------------------------------------
@flow
def plain_flow(n: int = 4) -> list[int]:
    return [f.result() for f in square.map(shards(n), offset=1)]


def test_unreachable_store_changes_nothing_in_the_flow(tmp_path, caplog):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the database's folder should be")
    client = modeldb_core.configure(uri=f"sqlite:///{blocked}/sub/modeldb.db")
    try:
        with caplog.at_level(logging.WARNING, logger="modeldb"):
            state = track(plain_flow, project="down")(return_state=True)
    finally:
        client.close()
    untracked = plain_flow(return_state=True)
    assert state.is_completed() and state.name == untracked.name == "Completed"
    assert state.result() == untracked.result() == [2, 5, 10, 17]
    # One line says the store is out of reach; what the flow recorded waits in the journal.
    assert any("cannot write to its store" in r.getMessage() for r in caplog.records)


def test_a_failing_hook_is_logged_and_the_result_passes_through(sqlite_tracking, monkeypatch, caplog):
    from modeldb_core import calls

    def broken(value, handed_over):
        raise RuntimeError("fingerprint backend down")

    monkeypatch.setattr(calls, "outputs_of", broken)
    with caplog.at_level(logging.WARNING, logger="modeldb"):
        state = track(plain_flow, project="hookfail")(n=2, return_state=True)
    assert state.result() == [2, 5]
    assert any("fingerprint backend down" in r.getMessage() for r in caplog.records)
    runs = task_runs(sqlite_tracking, state)
    assert len(runs) == 3 and all(d.run.status == "succeeded" for d in runs)


def test_untracked_flows_and_tasks_are_left_alone(sqlite_tracking):
    track(plain_flow)  # installs the task wrappers in this process
    assert plain_flow(n=2) == [2, 5]
    assert square.fn(3) == 9 and square(3) == 9  # outside any flow
    assert modeldb_core.search_runs(store=sqlite_tracking.store).runs == []
    assert not any(getattr(h, "__name__", "").startswith("modeldb") for h in square.on_running_hooks)


def test_bad_options_are_refused_with_the_field_named():
    from modeldb_core.errors import ValidationError

    with pytest.raises(ValidationError, match="phases"):
        track(plain_flow, phases={"square": "pretraining"})
    with pytest.raises(ValidationError, match="inputs"):
        track(plain_flow, inputs={"square": "data.csv"})
    with pytest.raises(TypeError, match="Prefect flow"):
        track(square)


# -- async flows, and @tracked_task functions under @task ---------------------
@task
async def fetch(city: str, days: int = 7) -> dict:
    return {"city": city, "days": days}


@task
async def summarize(rows: dict) -> int:
    return rows["days"] * 2


@tracked_flow(project="async")
@flow
async def async_flow(city: str = "Oslo") -> int:
    return await summarize(await fetch(city))


def test_async_flow_and_tasks_are_tracked(sqlite_tracking):
    import asyncio

    state = asyncio.run(async_flow(return_state=True))
    assert state.is_completed()
    runs = {d.run.name: d for d in task_runs(sqlite_tracking, state)}
    assert runs["fetch"].params == {"city": "Oslo", "days": 7}
    assert [io.artifact.id for io in runs["summarize"].inputs] == [io.artifact.id for io in runs["fetch"].outputs]
    assert pipeline_run(sqlite_tracking, state).status == "succeeded"


@modeldb_core.tracked_task(phase="evaluation", outputs=["report_path"])
def evaluate(score: float, report_path: str) -> float:
    modeldb_core.log_metric("auc", score)
    with open(report_path, "w") as fh:
        fh.write(f"auc={score}\n")
    return score


evaluate_task = task(evaluate, name="evaluate")


@flow
def evaluation_flow(report_path: str) -> float:
    return evaluate_task(0.91, report_path)


def test_a_tracked_task_function_under_task_logs_into_the_task_run(sqlite_tracking, tmp_path):
    report = tmp_path / "report.txt"
    state = track(evaluation_flow, project="eval")(str(report), return_state=True)
    assert state.result() == 0.91
    [detail] = task_runs(sqlite_tracking, state)  # one run, not a task run and a child
    assert len(modeldb_core.search_runs(project="eval", store=sqlite_tracking.store).runs) == 1
    assert detail.run.phase == "evaluation"
    assert detail.metrics == {"auc": 0.91}
    assert ("report_path", f"file://{report}") in {(io.name, io.artifact.uri) for io in detail.outputs}


@modeldb_core.tracked_task(project="risk")
def score_risk(limit: float) -> float:
    modeldb_core.log_metric("exposure", limit * 0.1)
    return limit * 0.1


@flow
def two_projects_flow() -> float:
    return task(score_risk, name="score_risk")(1000.0) + evaluate_task(0.5, "/dev/null")


def test_a_tracked_task_functions_project_wins_over_the_flows(sqlite_tracking):
    """As its phase does, and as an Airflow task's callable does: the run is in the project the
    function names; a function that names none takes the flow's."""
    state = track(two_projects_flow, project="pricing")(return_state=True)
    assert state.result() == 100.5
    projects = {d.run.name: d.run.project for d in task_runs(sqlite_tracking, state)}
    assert projects == {"score_risk": "risk", "evaluate": "pricing"}
    [risk] = modeldb_core.search_runs(project="risk", store=sqlite_tracking.store).runs
    assert risk.metrics == {"exposure": 100.0}
    assert pipeline_run(sqlite_tracking, state).status == "succeeded"


def test_final_flow_states_map_to_pipeline_run_statuses():
    """The mapping the terminal flow hooks apply (a runner-driven cancellation cannot run in-process)."""
    from prefect.states import Cancelling, Completed, Crashed, Failed

    from modeldb_core.integrations.prefect.flow_hooks import status_of

    assert status_of(Completed()) == "succeeded"
    assert status_of(Failed(message="boom")) == "failed"
    assert status_of(Cancelling(message="cancelled from the UI")) == "killed"
    assert status_of(Cancelled(message="cancelled")) == "killed"
    assert status_of(Crashed(message="interrupted", data=KeyboardInterrupt())) == "killed"
    assert status_of(Crashed(message="lost the API", data=ConnectionError("refused"))) == "failed"


@task
def long_training(epochs: int = 1500) -> list:
    """Logs a long metric series and looks itself up in the store while still running."""
    import time

    from prefect.runtime import task_run as current

    for epoch in range(epochs):
        modeldb_core.log_metric("loss", 1.0 / (epoch + 1), step=epoch)
    seen = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not seen:
        time.sleep(0.1)
        seen = [r.status for r in modeldb_core.search_runs(
            f'tags."prefect.task_run_id" = "{current.id}"').runs]
    return seen


@flow
def long_flow() -> list:
    return long_training()


def test_a_long_task_shows_as_running_and_keeps_its_whole_metric_series(sqlite_tracking):
    state = track(long_flow, project="long", phase="training")(return_state=True)
    assert state.result() == ["running"]  # what the task saw of its own run, mid-task
    [detail] = task_runs(sqlite_tracking, state)
    assert detail.run.status == "succeeded"
    history = sqlite_tracking.store.metric_history(detail.run.id, "loss")
    assert len(history) == 1500 and history[-1].step == 1499
    assert detail.metrics == {"loss": 1.0 / 1500}


@task
def inner_step(x: int) -> int:
    return x + 1


@task
def outer_step(x: int) -> int:
    return inner_step(x) * 10


@flow
def nested_flow() -> list:
    return [outer_step(1), outer_step(2)]


def test_a_task_run_inside_a_task_run_is_its_child(sqlite_tracking):
    state = track(nested_flow, project="nested")(return_state=True)
    assert state.result() == [20, 30]
    runs = task_runs(sqlite_tracking, state)
    outer = {d.params["x"]: d.run for d in runs if d.run.name == "outer_step"}
    inner = {d.params["x"]: d.run for d in runs if d.run.name == "inner_step"}
    assert sorted(outer) == sorted(inner) == [1, 2]
    for x in (1, 2):
        assert inner[x].parent_run_id == outer[x].id
        assert outer[x].parent_run_id is None
    assert all(d.run.status == "succeeded" for d in runs)


@dataclasses.dataclass
class TrainingSet:
    rows: list
    label: str


@task
def load_rows(n: int) -> list:
    return list(range(n))


@task
def fit_on(data: TrainingSet) -> int:
    return len(data.rows)


@tracked_flow(project="dataclass")
@flow
def dataclass_flow() -> int:
    rows = load_rows.submit(3)
    return fit_on(TrainingSet(rows=rows, label="y"))


def test_a_future_inside_a_dataclass_parameter_is_recorded_as_its_result(sqlite_tracking):
    state = dataclass_flow(return_state=True)
    assert state.result() == 3
    [fit] = task_runs(sqlite_tracking, state, "fit_on")
    recorded = json.dumps(fit.params["data"])
    assert "Future" not in recorded and "[0, 1, 2]" in recorded, recorded


@task
def fan_out(n: int) -> int:
    # Mapped inside a task: each mapped run starts on a worker thread while others are
    # being written, and reads the id of the task run it was called from.
    return sum(f.result() for f in inner_step.map(range(n)))


@flow
def fan_out_flow(n: int = 48) -> int:
    return fan_out(n)


def test_tasks_mapped_inside_a_task_all_keep_their_parent(sqlite_tracking):
    state = track(fan_out_flow, project="fan-out")(return_state=True)
    assert state.result() == sum(range(1, 49))
    runs = task_runs(sqlite_tracking, state)
    [outer] = [d.run for d in runs if d.run.name == "fan_out"]
    inner = [d.run for d in runs if d.run.name == "inner_step"]
    assert len(inner) == 48
    assert [r for r in inner if r.parent_run_id != outer.id] == []


# -- Prefect's task_inputs are checked against what the parameter holds ------------
@task
def load_settings() -> dict:
    return {"learning_rate": 0.1, "depth": 3}


@task
def fit_with(settings: dict) -> float:
    return settings["learning_rate"] * settings["depth"]


@tracked_flow(project="handed-over")
@flow
def settings_flow() -> list:
    settings = load_settings()
    unchanged = fit_with(settings)
    # The flow changes the object before handing it on: Prefect still names load_settings as
    # the upstream of the second fit (it tracks results by identity), but that fit read other data.
    settings["learning_rate"] = 0.5
    return [unchanged, fit_with(settings)]


def test_an_upstream_task_is_an_input_only_if_the_parameter_holds_its_result(sqlite_tracking):
    state = settings_flow(return_state=True)
    assert state.result() == [0.1 * 3, 0.5 * 3]
    [loaded] = task_runs(sqlite_tracking, state, "load_settings")
    first, second = task_runs(sqlite_tracking, state, "fit_with")
    produced = {io.artifact.content_hash for io in loaded.outputs}
    assert len(produced) == 1
    assert {io.artifact.content_hash for io in first.inputs} == produced
    # The second fit read the changed settings: their own content, not load_settings' result.
    read = {io.artifact.content_hash for io in second.inputs if io.name == "settings"}
    assert len(read) == 1 and not read & produced, (read, produced)
    up = {f"{n.kind}:{n.id}" for n in sqlite_tracking.store.lineage(f"run:{second.run.id}", direction="up").nodes}
    assert f"run:{loaded.run.id}" not in up
