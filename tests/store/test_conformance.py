"""The store's contract, one suite run on every backend (SQLite and PostgreSQL).

What any ``MetadataStore`` must do, written against the interface only (writes go
through ``apply_events``, the one write entry point of tracking): events applied
idempotently and in any order, run lookup by id and prefix, the reads the
integrations use, search with the query language, lineage across runs. A new
backend (the tracking server's HTTP store) is added to the ``store`` fixture and
must pass it unchanged.
"""
from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from modeldb_core import events as ev
from modeldb_core.errors import NotFoundError, ValidationError
from modeldb_core.events import Event
from modeldb_core.query import language
from modeldb_core.query.records import RunQuery


def _state(store, ref: str) -> dict:
    """What a user sees of a run, without the store's own ids."""
    d = store.get_run_detail(ref)
    return {
        "status": d.run.status, "started": d.run.started_at, "ended": d.run.ended_at,
        "error": d.run.error_message, "params": d.params, "tags": d.tags,
        "metrics": {k: [(m.step, m.timestamp, m.value) for m in v] for k, v in d.metric_history.items()},
        "latest": {k: repr(v) for k, v in d.metrics.items()},  # repr: a NaN equals its own kind
        "notes": sorted(n.text for n in d.notes),
        "inputs": sorted((io.name, io.artifact.uri, io.artifact.content_hash) for io in d.inputs),
        "children": len(d.children),
    }


# -- events applied idempotently and in any order (property test, both databases) ----------
def _stream(parent: str, child: str, prun: str, draw_values) -> list[Event]:
    steps, tags, notes, status = draw_values
    seq = iter(range(1, 10_000))
    start = {"project": "events", "name": "parent", "phase": "training", "started_at": 1000.0,
             "pipeline_run": prun, "parent": None, "orchestrator": "python", "params": {"lr": 0.1},
             "tags": {"team": "a"}, "env": None, "code": None}
    out = [Event(ev.PIPELINE_STARTED, prun, next(seq), {
               "project": "events", "name": "script", "orchestrator": "python", "structure": {},
               "structure_hash": "sha256:0", "external_id": prun, "started_at": 999.0}),
           Event(ev.STARTED, parent, next(seq), start)]
    for i, value in enumerate(steps):
        out.append(Event(ev.METRIC, parent, next(seq), ["loss", value, i, 1000.0 + i]))
    for i, value in enumerate(tags):
        out.append(Event(ev.TAGS, parent, next(seq), {"stage": value}))
    for text in notes:
        out.append(Event(ev.NOTE, parent, next(seq), {"text": text, "at": 1001.0}))
    out.append(Event(ev.IO, parent, next(seq), {"direction": "input", "name": "train", "version": {
        "uri": "file:///data/train.csv", "kind": "file", "content_hash": "sha256:ab", "size": 3,
        "metadata": {}, "fingerprint_method": "full"}}))
    out.append(Event(ev.STARTED, child, next(seq), {**start, "name": "child", "parent": parent,
                                                     "params": {"depth": 3}, "tags": {}}))
    out.append(Event(ev.PARAMS, child, next(seq), {"extra": "yes"}))
    out.append(Event(ev.ENDED, child, next(seq), {"status": "succeeded", "ended_at": 1002.0}))
    out.append(Event(ev.HEARTBEAT, parent, next(seq), 1003.0))
    # An end stamped before the start (a clock step): clamped to the start.
    out.append(Event(ev.ENDED, parent, next(seq), {"status": status, "ended_at": 990.0,
                                                    "error_message": "boom" if status == "failed" else None}))
    out.append(Event(ev.HEARTBEAT, parent, next(seq), 1004.0))  # late: does not reopen it
    out.append(Event(ev.PIPELINE_ENDED, prun, next(seq), {"status": status, "ended_at": 1005.0}))
    return out


def _uuids(n: int) -> list[str]:
    return [ev.uuid7() for _ in range(n)]


values = st.tuples(
    st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), max_size=6),
    st.lists(st.sampled_from(["prep", "fit", "eval"]), max_size=4),
    # Text the boundary accepts (NUL and lone surrogates are refused there, tests/core/test_validation*).
    st.lists(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                     min_size=1, max_size=8), max_size=3, unique=True),
    st.sampled_from(["succeeded", "failed", "killed"]))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=values, shuffle_seed=st.integers(0, 2 ** 32), batch=st.integers(1, 7),
       duplicates=st.integers(0, 10))
def test_shuffled_and_duplicated_events_give_the_in_order_state(store, drawn, shuffle_seed, batch, duplicates):
    a_parent, a_child, b_parent, b_child = _uuids(4)
    a_prun, b_prun = _uuids(2)
    in_order = _stream(a_parent, a_child, a_prun, drawn)
    store.apply_events(in_order, {})
    shuffled = _stream(b_parent, b_child, b_prun, drawn)
    rng = random.Random(shuffle_seed)
    shuffled += [rng.choice(shuffled) for _ in range(duplicates)]
    rng.shuffle(shuffled)
    for start in range(0, len(shuffled), batch):  # delivered in several batches, in any order
        store.apply_events(shuffled[start:start + batch], {})
        # A value whose run has not arrived waits for it: none is ever written without its run
        # (on PostgreSQL no foreign key says so since revision 0012; the event path must).
        assert _values_without_their_run(store) == {}
    store.apply_events(shuffled, {})  # and the whole stream once more (a replay)
    expected, got = _state(store, a_parent), _state(store, b_parent)
    assert got == expected
    assert expected["ended"] == 1000.0 and expected["children"] == 1
    assert _state(store, a_child) == _state(store, b_child)


def _values_without_their_run(store) -> dict[str, int]:
    import sqlalchemy as sa

    found = {}
    with store.engine.connect() as conn:
        for table in ("params", "metrics", "latest_metrics", "tags", "notes", "run_io"):
            count = conn.execute(sa.text(
                f"SELECT count(*) FROM {table} v WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = v.run_id)")).scalar()
            if count:
                found[table] = count
    return found


def test_terminal_status_is_sticky_and_the_latest_end_wins(store):
    run = ev.uuid7()
    start = Event(ev.STARTED, run, 1, {"project": "p", "name": "r", "started_at": 10.0, "params": {},
                                       "tags": {}, "pipeline_run": None, "parent": None})
    store.apply_events([start, Event(ev.ENDED, run, 5, {"status": "succeeded", "ended_at": 20.0})], {})
    store.apply_events([Event(ev.HEARTBEAT, run, 6, 30.0)], {})  # a late heartbeat
    assert store.get_run(run).status == "succeeded"
    store.apply_events([Event(ev.ENDED, run, 3, {"status": "failed", "ended_at": 15.0})], {})
    assert (store.get_run(run).status, store.get_run(run).ended_at) == ("succeeded", 20.0)
    # A replay's "killed" (sequence 0) never overrides a real end.
    store.apply_events([Event(ev.ENDED, run, 0, {"status": "killed", "ended_at": 25.0})], {})
    assert store.get_run(run).status == "succeeded"


# -- the rest of the contract, on runs made by events --------------------------------------
def _start(run: str, name: str, *, project: str = "conf", started_at: float = 100.0, parent: str | None = None,
           orchestrator: str | None = None, external_id: str | None = None, try_number: int | None = None,
           params: dict | None = None, tags: dict | None = None, seq: int = 1) -> Event:
    return Event(ev.STARTED, run, seq, {
        "project": project, "name": name, "phase": "training", "started_at": started_at,
        "pipeline_run": None, "parent": parent, "orchestrator": orchestrator, "external_id": external_id,
        "try_number": try_number, "params": params or {}, "tags": tags or {}, "env": None, "code": None})


def _end(run: str, status: str = "succeeded", at: float = 200.0, seq: int = 50) -> Event:
    return Event(ev.ENDED, run, seq, {"status": status, "ended_at": at})


def _io(run: str, direction: str, uri: str, digest: str, name: str, seq: int) -> Event:
    return Event(ev.IO, run, seq, {"direction": direction, "name": name, "version": {
        "uri": uri, "kind": "file", "content_hash": digest, "size": 1, "metadata": {},
        "fingerprint_method": "full"}})


def test_a_run_is_found_by_its_id_a_unique_prefix_or_its_number(store):
    first, second = ev.uuid7(), ev.uuid7()
    # Again when made across a 65 s boundary of their time prefix, or when the random tail is
    # all digits (one time in ~280: it then reads as a run's number).
    while first[:8] != second[:8] or first[-12:].isdigit():
        first, second = ev.uuid7(), ev.uuid7()
    store.apply_events([_start(first, "a"), _start(second, "b")], {})
    run = store.get_run(first)
    assert run.id == first and run.name == "a"
    assert store.get_run(first[:23]).id == first  # a unique prefix
    with pytest.raises(ValidationError, match="more than one"):  # a prefix two runs share
        store.get_run(first[:8])
    assert store.get_run(first[-12:]).id == first  # the random tail is unique
    assert store.get_run(run.key).id == first  # the number, for one release
    with pytest.raises(NotFoundError):
        store.get_run(ev.uuid7())
    with pytest.raises((NotFoundError, ValidationError)):
        store.get_run("0192")  # shorter than 8: never a prefix


def test_every_try_of_one_orchestrator_task_instance_oldest_first(store):
    tries = [ev.uuid7() for _ in range(3)]
    store.apply_events([_start(run, "task", orchestrator="airflow" if n < 2 else "luigi", external_id="dag/r/t",
                               try_number=n + 1, started_at=100.0 + n) for n, run in enumerate(tries)], {})
    assert [r.id for r in store.runs_by_external_id("dag/r/t")] == tries
    assert [r.try_number for r in store.runs_by_external_id("dag/r/t", orchestrator="airflow")] == [1, 2]
    assert store.runs_by_external_id("nothing/like/it") == []


def test_params_are_write_once_and_metric_points_are_kept_once_in_step_order(store):
    run = ev.uuid7()
    store.apply_events([_start(run, "m", params={"lr": 0.1}),
                        Event(ev.PARAMS, run, 2, {"lr": 0.1, "depth": 3}),
                        *[Event(ev.METRIC, run, 10 + s, ["loss", 1.0 / (s + 1), s, 100.0 + s]) for s in (2, 0, 1)],
                        Event(ev.METRIC, run, 20, ["loss", 1.0, 0, 100.0])], {})  # the same point again
    detail = store.get_run_detail(run)
    assert detail.params == {"lr": 0.1, "depth": 3}
    assert [(m.step, m.value) for m in store.metric_history(run, "loss")] == [(0, 1.0), (1, 0.5), (2, 1 / 3)]
    assert detail.metrics["loss"] == 1 / 3  # the latest step


def test_new_runs_and_their_values_delivered_twice_in_one_batch_land_once(store):
    # The values of a run that its own batch creates go in without a conflict check
    # (store/events.py): the batch must keep one row of each param, tag and metric point
    # itself, child runs (inserted after their parent) included.
    drawn = ([0.5, 0.25, float("nan"), 0.125], ["prep", "fit", "eval"], ["n1", "n2"], "failed")
    a_parent, a_child, a_prun, b_parent, b_child, b_prun = _uuids(6)
    for event in _stream(a_parent, a_child, a_prun, drawn):
        store.apply_events([event], {})
    twice = _stream(b_parent, b_child, b_prun, drawn) * 2
    twice.append(Event(ev.PARAMS, b_parent, 90, {"lr": 0.1}))  # a param the start gave, again
    random.Random(7).shuffle(twice)
    store.apply_events(twice, {})
    assert _values_without_their_run(store) == {}
    assert _state(store, b_parent) == _state(store, a_parent)
    assert _state(store, b_child) == _state(store, a_child)
    assert _state(store, b_parent)["params"] == {"lr": 0.1}
    assert [v for _, _, v in _state(store, b_parent)["metrics"]["loss"]][:2] == [0.5, 0.25]


def test_search_filters_and_sorts_runs_made_by_events(store):
    runs = {name: ev.uuid7() for name in ("low", "mid", "high", "other")}
    events = []
    for n, (name, run) in enumerate(runs.items()):
        events += [_start(run, name, project="other" if name == "other" else "conf", started_at=100.0 + n,
                          params={"model": "rf" if name != "low" else "lin"}, tags={"team": "a"}),
                   Event(ev.METRIC, run, 2, ["rmse", float(n + 1), 0, 101.0 + n]), _end(run)]
    store.apply_events(events, {})
    query = RunQuery(filter=language.parse_filter('metrics.rmse >= 2 and params.model = "rf"'), project="conf",
                     order=tuple(language.parse_sort("-metrics.rmse")))
    found = store.search_runs(query)
    assert [r.name for r in found] == ["high", "mid"]
    assert found[0].metrics["rmse"] == 3.0 and found[0].params["model"] == "rf" and found[0].tags["team"] == "a"
    assert [r.name for r in store.search_runs(RunQuery(project="conf", order=tuple(language.parse_sort("started"))))] \
        == ["low", "mid", "high"]


def test_lineage_joins_runs_through_the_artifact_one_writes_and_another_reads(store):
    prep, train, evaluate = ev.uuid7(), ev.uuid7(), ev.uuid7()
    store.apply_events([
        _start(prep, "prep"), _io(prep, "output", "file:///d/train.csv", "sha256:01", "train", 2), _end(prep),
        # The reader's events arrive before the writer's end: order does not matter.
        _start(train, "train"), _io(train, "input", "file:///d/train.csv", "sha256:01", "data", 2),
        _io(train, "output", "file:///m/model.pkl", "sha256:02", "model", 3),
        _start(evaluate, "evaluate"), _io(evaluate, "input", "file:///m/model.pkl", "sha256:02", "model", 2),
        _io(evaluate, "input", "file:///d/train.csv", "sha256:99", "other version", 3),
    ], {})
    up = store.lineage(f"run:{evaluate}", direction="up", depth=10)
    runs_up = {n.label for n in up.nodes if n.kind == "run"}
    assert {"prep", "train", "evaluate"} <= runs_up
    down = store.lineage(f"run:{prep}", direction="down", depth=10)
    assert {"train", "evaluate"} <= {n.label for n in down.nodes if n.kind == "run"}
    # Another content of the same file is another node: it does not join prep's output.
    assert len(store.find_artifact_versions("file:///d/train.csv")) == 2


def test_the_models_of_a_project_and_the_runs_that_evaluated_them(store):
    """The model rule of docs/models.md, applied by the store: a training run's output is a
    model, a run of any project that read it evaluated it."""
    from modeldb_core.models_view import ModelsQuery

    train, evaluate, elsewhere = ev.uuid7(), ev.uuid7(), ev.uuid7()
    store.apply_events([
        _start(train, "train", started_at=100.0), _io(train, "input", "file:///d/train.csv", "sha256:01", "data", 2),
        _io(train, "output", "file:///m/model.pkl", "sha256:02", "model", 3),
        _start(evaluate, "evaluate", started_at=150.0),
        _io(evaluate, "input", "file:///m/model.pkl", "sha256:02", "model", 2),
        _start(elsewhere, "other", project="another"),
        _io(elsewhere, "input", "file:///m/model.pkl", "sha256:02", "model", 2),
    ], {})
    page = store.models_page(ModelsQuery(project="conf"))
    assert [(row.training_run, row.artifact.uri, row.output_name) for row in page.rows] == [
        (train, "file:///m/model.pkl", "model")]
    assert page.matched == 1 and store.models_overview("conf").total == 1
    assert store.models_page(ModelsQuery(project="another")).rows == []
    assert store.model_trainers("conf") == {evaluate: {train}}
    assert store.model_trainers("another") == {elsewhere: {train}}
    with pytest.raises(NotFoundError):
        store.models_page(ModelsQuery(project="no such project"))


def test_an_event_kind_must_be_declared_before_an_applier_is_registered():
    from modeldb_core.store import events as applying

    with pytest.raises(ValueError, match="not declared"):
        applying.applier("no_such_kind")


def test_pipeline_runs_are_read_with_their_pipeline(store):
    key = ev.pipeline_run_key("conf", "nightly", "luigi", "sha256:s", "build-1")
    store.apply_events([
        Event(ev.PIPELINE_STARTED, key, 1, {"project": "conf", "name": "nightly", "orchestrator": "luigi",
                                            "structure": {"tasks": ["a", "b"], "edges": [["a", "b"]]},
                                            "structure_hash": "sha256:s", "external_id": "build-1",
                                            "started_at": 10.0}),
        Event(ev.PIPELINE_ENDED, key, 2, {"status": "failed", "ended_at": 20.0})], {})
    # Another worker of the same build starts it again later (a process a task): still one
    # pipeline run, as it was.
    store.apply_events([Event(ev.PIPELINE_STARTED, key, 3, {
        "project": "conf", "name": "nightly", "orchestrator": "luigi", "structure": {"tasks": ["a", "b"]},
        "structure_hash": "sha256:s", "external_id": "build-1", "started_at": 30.0})], {})
    [(run, pipeline)] = store.pipeline_runs(external_id="build-1")
    assert (run.status, run.started_at, run.ended_at) == ("failed", 10.0, 20.0)
    assert (pipeline.name, pipeline.orchestrator, pipeline.structure["edges"]) == ("nightly", "luigi", [["a", "b"]])
    assert store.pipeline_runs(ids=[run.id]) == [(run, pipeline)]
    assert store.pipeline_runs(project="no such project") == []


def test_writers_in_threads_of_one_process_create_the_same_new_projects_at_once(store):
    """A project (or environment) made by one thread's transaction is not used by another
    thread before it commits: every batch lands, each project exists once."""
    import threading

    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def write(worker: int) -> None:
        try:
            for round_ in range(15):
                barrier.wait(timeout=30)
                runs = _uuids(3)
                store.apply_events([_start(run, f"w{worker}", project=f"p{round_}-{n}")
                                    for n, run in enumerate(runs)], {})
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=write, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(store.list_runs(limit=1000)) == 6 * 15 * 3
    assert sorted(p.name for p in store.list_projects() if p.name.startswith("p")) == sorted(
        f"p{r}-{n}" for r in range(15) for n in range(3))


def test_the_same_batch_applied_by_writers_at_once_lands_once(store):
    """Replicas given one batch twice (a client's retry after a timeout) apply it at the
    same moment: one inserts the runs and writes their values without conflict checks,
    the others find them there and go through the checks; none fails, nothing doubles."""
    import threading

    errors: list[BaseException] = []
    barrier = threading.Barrier(4)
    rounds = [[(run, [_start(run, "same", params={"lr": 0.1, "depth": 3}, tags={"team": "a"}),
                      *[Event(ev.METRIC, run, 10 + s, ["loss", 1.0 / (s + 1), s, 100.0 + s]) for s in range(3)],
                      _end(run)]) for run in _uuids(5)] for _ in range(8)]

    def write() -> None:
        try:
            for runs in rounds:
                barrier.wait(timeout=30)
                store.apply_events([e for _, events in runs for e in events], {})
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for runs in rounds:
        for run, _ in runs:
            detail = store.get_run_detail(run)
            assert (detail.run.status, detail.params, detail.tags["team"]) == ("succeeded", {"lr": 0.1, "depth": 3}, "a")
            assert [(m.step, m.value) for m in detail.metric_history["loss"]] == [(0, 1.0), (1, 0.5), (2, 1 / 3)]
            assert detail.metrics["loss"] == 1 / 3


def test_one_batch_with_several_ends_heartbeats_and_tag_values_of_one_run(store):
    # Delivered together (a replay, a writer catching up): the end of the highest seq wins,
    # the latest heartbeat and the tag value of the highest seq stay, whatever the order.
    run = ev.uuid7()
    batch = [_end(run, "killed", 300.0, seq=0), _end(run, "failed", 250.0, seq=7),
             Event(ev.HEARTBEAT, run, 4, 150.0), Event(ev.TAGS, run, 8, {"stage": "late"}),
             _end(run, "succeeded", 210.0, seq=9), Event(ev.HEARTBEAT, run, 5, 160.0),
             Event(ev.TAGS, run, 3, {"stage": "early"}), _end(run, "failed", 250.0, seq=7),
             _start(run, "several ends", tags={"stage": "start"})]
    store.apply_events(batch, {})
    got = store.get_run_detail(run)
    assert (got.run.status, got.run.ended_at, got.tags["stage"]) == ("succeeded", 210.0, "late")
    # The same events again, one batch each in reverse: nothing changes.
    for event in reversed(batch):
        store.apply_events([event], {})
    again = store.get_run_detail(run)
    assert (again.run.status, again.run.ended_at, again.tags["stage"]) == ("succeeded", 210.0, "late")


def test_numbers_given_as_integers_land_in_float_columns(store):
    # JSON has no float type of its own: a timestamp or a metric of 3 arrives as an int.
    run = ev.uuid7()
    store.apply_events([_start(run, "ints", started_at=100, params={"n": 3, "x": 0.5}),
                        Event(ev.METRIC, run, 2, ["loss", 3, 0, 101]),
                        Event(ev.METRIC, run, 3, ["loss", 2.5, 1, 102.5]),
                        Event(ev.HEARTBEAT, run, 4, 103),
                        _end(run, at=104, seq=5)], {})
    got = store.get_run_detail(run)
    assert (got.run.started_at, got.run.ended_at, got.params) == (100.0, 104.0, {"n": 3, "x": 0.5})
    assert [(m.step, m.timestamp, m.value) for m in got.metric_history["loss"]] == [(0, 101.0, 3.0), (1, 102.5, 2.5)]


def test_a_run_started_and_ended_in_one_batch_lands_ended_even_if_its_start_was_there(store):
    # A run whose start and end come in one batch is inserted ended (store/events.py); its
    # end still applies when the start had already landed (another writer, an earlier batch).
    fresh, known = ev.uuid7(), ev.uuid7()
    store.apply_events([_start(fresh, "fresh", started_at=100.0),
                        Event(ev.ENDED, fresh, 60, {"status": "failed", "ended_at": 90.0, "error_message": "boom"}),
                        _end(fresh, "killed", 300.0, seq=0)], {})
    got = store.get_run(fresh)
    assert (got.status, got.ended_at, got.error_message) == ("failed", 100.0, "boom")  # clamped to its start
    store.apply_events([_start(known, "known", started_at=100.0)], {})
    store.apply_events([_start(known, "known", started_at=100.0), _end(known, "succeeded", 200.0)], {})
    got = store.get_run(known)
    assert (got.status, got.ended_at) == ("succeeded", 200.0)
    # The status index holds what the rows say: neither run is found running.
    running = store.search_runs(RunQuery(filter=language.parse_filter('status = "running"')))
    assert {r.id for r in running} & {fresh, known} == set()
    failed = store.search_runs(RunQuery(filter=language.parse_filter('status = "failed"')))
    assert fresh in {r.id for r in failed}


def test_project_summaries_follow_every_change_a_reader_keeps_them_across(store):
    """The aggregates are kept between reads (the projects page asks on every view) and must
    still show each new run, metric point, end and project at once."""
    def summary(project: str = "sums"):
        return {s.project.name: s for s in store.project_summaries()}[project]

    first, second = ev.uuid7(), ev.uuid7()
    store.apply_events([_start(first, "a", project="sums", started_at=100.0),
                        Event(ev.METRIC, first, 2, ["rmse", 3.0, 0, 101.0])], {})
    before = summary()
    assert (before.runs, before.metrics["rmse"].minimum, before.last_activity) == (1, 3.0, 100.0)
    assert summary() == before  # kept: nothing changed

    store.apply_events([Event(ev.METRIC, first, 3, ["rmse", 2.5, 1, 102.0])], {})
    assert summary().metrics["rmse"].minimum == 2.5, "a new metric point of a known run"
    store.apply_events([_end(first, at=150.0)], {})
    assert summary().last_activity == 150.0, "a run that stopped running"
    store.apply_events([_start(second, "b", project="sums", started_at=160.0)], {})
    assert (summary().runs, summary().last_activity) == (2, 160.0), "a new run"
    store.apply_events([_start(ev.uuid7(), "c", project="other", started_at=170.0)], {})
    assert summary("other").runs == 1, "a new project"
