"""Pipelines written the way Luigi's own examples write them (issue 19): ``requires()`` as a
generator, any iterable Luigi accepts, and tracking that calls the user's ``requires()`` and
``output()`` no more often than Luigi itself does. Real ``luigi.build``, real SQLite."""
from __future__ import annotations

import collections
import datetime
import os
import random

import luigi
import luigi.date_interval
import pytest

import modeldb_core
from modeldb_core.integrations import luigi as mdb_luigi
from modeldb_core.integrations.luigi import calls

BUILD = {"local_scheduler": True, "no_lock": True, "log_level": "WARNING"}
WEEK = luigi.date_interval.Custom(datetime.date(2026, 11, 20), datetime.date(2026, 11, 27))  # 7 days
# (class, method) -> how many times the user's method body ran
counted: collections.Counter = collections.Counter()


# After luigi/examples/top_artists.py, with requires() yielding its streams.
class Streams(luigi.Task):
    date = luigi.DateParameter()
    folder = luigi.Parameter()

    def output(self):
        counted["Streams.output"] += 1
        return luigi.LocalTarget(os.path.join(self.folder, self.date.strftime("streams_%Y_%m_%d_faked.tsv")))

    def run(self):
        rng = random.Random(self.date.toordinal())
        with self.output().open("w") as output:
            for _ in range(200):
                output.write(f"{rng.randint(0, 999)} {rng.randint(0, 99)} {rng.randint(0, 999)}\n")


class ArtistNames(luigi.ExternalTask):
    folder = luigi.Parameter()

    def output(self):
        counted["ArtistNames.output"] += 1
        return luigi.LocalTarget(os.path.join(self.folder, "artist_names.tsv"))


class AggregateArtists(luigi.Task):
    date_interval = luigi.DateIntervalParameter()
    folder = luigi.Parameter()

    def output(self):
        counted["AggregateArtists.output"] += 1
        return luigi.LocalTarget(os.path.join(self.folder, f"artist_streams_{self.date_interval}.tsv"))

    def requires(self):
        counted["AggregateArtists.requires"] += 1
        for date in self.date_interval:
            yield Streams(date=date, folder=self.folder)

    def run(self):
        artist_count: dict[str, int] = collections.defaultdict(int)
        for target in self.input():
            with target.open("r") as in_file:
                for line in in_file:
                    _, artist, _track = line.strip().split()
                    artist_count[artist] += 1
        with self.output().open("w") as out_file:
            for artist, count in sorted(artist_count.items()):
                out_file.write(f"{artist}\t{count}\n")


class Top10Artists(luigi.Task):
    """Several shapes at once: a dict holding a task, a generator expression and a set."""

    date_interval = luigi.DateIntervalParameter()
    folder = luigi.Parameter()

    def requires(self):
        counted["Top10Artists.requires"] += 1
        days = list(self.date_interval)
        return {"aggregate": AggregateArtists(date_interval=self.date_interval, folder=self.folder),
                "first_days": (Streams(date=d, folder=self.folder) for d in days[:2]),
                "names": {ArtistNames(folder=self.folder)}}

    def output(self):
        counted["Top10Artists.output"] += 1
        return luigi.LocalTarget(os.path.join(self.folder, f"top_artists_{self.date_interval}.tsv"))

    def run(self):
        with self.input()["aggregate"].open("r") as fh:
            rows = sorted((line.split("\t") for line in fh), key=lambda r: -int(r[1]))[:10]
        assert len(self.input()["first_days"]) == 2  # Luigi hands a generator back as a list
        with self.output().open("w") as out:
            out.writelines("\t".join(r) for r in rows)


def pipeline(folder: str) -> Top10Artists:
    with open(os.path.join(folder, "artist_names.tsv"), "w") as fh:
        fh.write("1\tThe Band\n")
    return Top10Artists(date_interval=WEEK, folder=folder)


@pytest.fixture
def client(sqlite_uri):
    client = modeldb_core.configure(uri=sqlite_uri)
    yield client
    mdb_luigi.untrack()
    calls.uninstall()
    client.close()


def folder_in(tmp_path, name: str) -> str:
    path = tmp_path / name
    path.mkdir()
    return str(path)


def runs(client) -> dict[str, list]:
    found: dict[str, list] = {}
    for run in sorted(client.store.list_runs(limit=1000), key=lambda r: r.id):
        found.setdefault(run.name, []).append(run)
    return found


def track() -> None:
    mdb_luigi.track()
    # What track() does once the lead's wiring lands (calls.install in track, see docs/luigi.md).
    calls.install()


def test_requires_written_as_a_generator_records_every_input(client, tmp_path):
    track()
    folder = folder_in(tmp_path, "data")
    assert luigi.build([pipeline(folder)], **BUILD)

    by_name = runs(client)
    assert len(by_name["Streams"]) == 7 and len(by_name["AggregateArtists"]) == 1
    streams = {client.store.get_run_detail(r.id).outputs[0].artifact.uri: r for r in by_name["Streams"]}

    aggregate = client.store.get_run_detail(by_name["AggregateArtists"][0].id)
    inputs = sorted((io.name, io.artifact.uri) for io in aggregate.inputs)
    assert [name for name, _ in inputs] == sorted(f"Streams[{i}]" for i in range(7))
    assert {uri for _, uri in inputs} == set(streams)
    # The lineage walks from the aggregate up to every day's stream.
    up = client.store.lineage(f"run:{aggregate.run.id}", direction="up", depth=2)
    assert {f"run:{r.id}" for r in streams.values()} <= {f"{n.kind}:{n.id}" for n in up.nodes}

    top = client.store.get_run_detail(by_name["Top10Artists"][0].id)
    names = sorted(io.name for io in top.inputs)
    assert names == ["aggregate", "first_days[0]", "first_days[1]", "names[0]"]
    first = {io.name: io.artifact.uri for io in top.inputs}
    assert first["first_days[0]"].endswith("streams_2026_11_20_faked.tsv")
    assert first["names[0]"].endswith("artist_names.tsv")


def test_a_generator_requires_without_the_call_observer_is_walked_too(client, tmp_path):
    mdb_luigi.track()  # the observer is not installed: tracking calls requires() itself
    folder = folder_in(tmp_path, "data")
    assert luigi.build([AggregateArtists(date_interval=WEEK, folder=folder)], **BUILD)
    aggregate = client.store.get_run_detail(runs(client)["AggregateArtists"][0].id)
    assert len(aggregate.inputs) == 7


@pytest.mark.parametrize("how", ["luigi.build", "modeldb build()"])
def test_tracking_calls_requires_and_output_no_more_often_than_luigi(client, tmp_path, how):
    counted.clear()
    assert luigi.build([pipeline(folder_in(tmp_path, "untracked"))], **BUILD)
    untracked = dict(counted)

    track()
    counted.clear()
    tracked_folder = folder_in(tmp_path, "tracked")
    if how == "luigi.build":
        assert luigi.build([pipeline(tracked_folder)], **BUILD)
    else:
        assert mdb_luigi.build([pipeline(tracked_folder)], **BUILD)
    tracked = dict(counted)

    assert tracked == untracked
    assert untracked["Streams.output"] >= 7 and untracked["AggregateArtists.requires"] >= 2
    # ... and tracking still recorded everything: 7 streams + aggregate + top 10, with their inputs.
    by_name = runs(client)
    assert sum(len(v) for v in by_name.values()) == 9
    aggregate = client.store.get_run_detail(by_name["AggregateArtists"][0].id)
    assert len(aggregate.inputs) == 7 and len(aggregate.outputs) == 1


def test_the_observer_hands_luigi_what_the_method_returned(client, tmp_path):
    track()
    task = pipeline(folder_in(tmp_path, "data"))
    required = task.requires()
    assert isinstance(required, dict) and len(required["first_days"]) == 2
    aggregate = required["aggregate"]
    generated = aggregate.requires()
    assert [t.date for t in generated] == list(WEEK)
    # A later call runs the user's method again: nothing is cached for Luigi or the user.
    before = counted["AggregateArtists.requires"]
    list(aggregate.requires())
    assert counted["AggregateArtists.requires"] == before + 1
    calls.uninstall()
    assert "observed" not in type(aggregate).__dict__["requires"].__name__
    assert not getattr(AggregateArtists.__dict__["requires"], "__modeldb_observed__", False)


@pytest.fixture
def task_timeout():
    """A forked task that hangs is ended by Luigi (a failed build) instead of hanging the tests."""
    config = luigi.configuration.get_config()
    config.set("worker", "timeout", "120")
    yield
    config.remove_option("worker", "timeout")


def test_generator_requires_with_forked_workers(client, tmp_path, task_timeout):
    track()
    folder = folder_in(tmp_path, "data")
    assert luigi.build([AggregateArtists(date_interval=WEEK, folder=folder)], workers=2, **BUILD)
    by_name = runs(client)
    assert len(by_name["Streams"]) == 7
    aggregate = client.store.get_run_detail(by_name["AggregateArtists"][0].id)
    assert sorted(io.name for io in aggregate.inputs) == sorted(f"Streams[{i}]" for i in range(7))
    assert aggregate.run.status == "succeeded"
