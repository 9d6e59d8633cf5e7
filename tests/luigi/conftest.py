"""A real Luigi pipeline for the tests: raw data → cleaned → features → model.

The tasks write LocalTargets under a folder given as a parameter, so every
test has its own files. The model is a scikit-learn logistic regression when
scikit-learn is installed, else a threshold picked by hand.
"""
from __future__ import annotations

import csv
import json
import os
import pickle
import random
from types import SimpleNamespace

import luigi
import pytest

import modeldb_core
from modeldb_core.integrations import luigi as mdb_luigi


class RawData(luigi.Task):
    """Synthetic rows: two features and a label, a few of them broken."""

    folder = luigi.Parameter()
    n_rows = luigi.IntParameter(default=120)
    seed = luigi.IntParameter(default=7)
    day = luigi.DateParameter(default=__import__("datetime").date(2026, 11, 26))
    modeldb_phase = "data_prep"

    def output(self):
        return luigi.LocalTarget(os.path.join(self.folder, f"raw-{self.seed}.csv"))

    def run(self):
        rng = random.Random(self.seed)
        with self.output().open("w") as fh:
            out = csv.writer(fh)
            out.writerow(["a", "b", "label"])
            for i in range(self.n_rows):
                a, b = rng.gauss(0, 1), rng.gauss(0, 1)
                label = int(a + 0.5 * b + rng.gauss(0, 0.3) > 0)
                out.writerow(["" if i % 17 == 0 else f"{a:.5f}", f"{b:.5f}", label])


class CleanData(luigi.Task):
    folder = luigi.Parameter()
    seed = luigi.IntParameter(default=7)
    phase = luigi.Parameter(default="data_prep")  # a "phase" parameter naming a phase
    verbose = luigi.BoolParameter(default=False, significant=False)

    def requires(self):
        return RawData(folder=self.folder, seed=self.seed)

    def output(self):
        return luigi.LocalTarget(os.path.join(self.folder, f"clean-{self.seed}.csv"))

    def run(self):
        with self.input().open("r") as src, self.output().open("w") as dst:
            rows = [r for r in csv.reader(src)]
            out = csv.writer(dst)
            out.writerow(rows[0])
            for row in rows[1:]:
                if all(cell != "" for cell in row):
                    out.writerow(row)


class Features(luigi.Task):
    """Two outputs (a dict): the feature matrix and the labels."""

    folder = luigi.Parameter()
    seed = luigi.IntParameter(default=7)
    modeldb_phase = luigi.Parameter(default="feature_engineering", significant=False)

    def requires(self):
        return {"clean": CleanData(folder=self.folder, seed=self.seed)}

    def output(self):
        return {"X": luigi.LocalTarget(os.path.join(self.folder, f"X-{self.seed}.json")),
                "y": luigi.LocalTarget(os.path.join(self.folder, f"y-{self.seed}.json"))}

    def run(self):
        with self.input()["clean"].open("r") as src:
            rows = list(csv.DictReader(src))
        X = [[float(r["a"]), float(r["b"]), float(r["a"]) * float(r["b"])] for r in rows]
        y = [int(r["label"]) for r in rows]
        with self.output()["X"].open("w") as fh:
            json.dump(X, fh)
        with self.output()["y"].open("w") as fh:
            json.dump(y, fh)


class TrainModel(luigi.Task):
    folder = luigi.Parameter()
    seed = luigi.IntParameter(default=7)
    C = luigi.FloatParameter(default=1.0)
    fail = luigi.BoolParameter(default=False)
    modeldb_phase = "training"

    def requires(self):
        return Features(folder=self.folder, seed=self.seed)

    def output(self):
        return luigi.LocalTarget(os.path.join(self.folder, f"model-{self.seed}-C{self.C}.pkl"),
                                 format=luigi.format.Nop)

    def run(self):
        if self.fail:
            raise ValueError(f"training diverged at C={self.C}")
        with self.input()["X"].open("r") as fh:
            X = json.load(fh)
        with self.input()["y"].open("r") as fh:
            y = json.load(fh)
        try:
            from sklearn.linear_model import LogisticRegression

            model = LogisticRegression(C=self.C).fit(X, y)
            accuracy = float(model.score(X, y))
        except ImportError:
            model = {"threshold": 0.0}
            accuracy = sum(int(x[0] + 0.5 * x[1] > 0) == t for x, t in zip(X, y)) / len(y)
        modeldb_core.log_metric("accuracy", accuracy)
        with self.output().open("wb") as fh:
            pickle.dump(model, fh)


class Report(luigi.Task):
    """Compares models trained with several C values (fan-out for workers > 1)."""

    folder = luigi.Parameter()
    Cs = luigi.ListParameter(default=[0.1, 1.0, 10.0])
    modeldb_phase = "evaluation"

    def requires(self):
        return [TrainModel(folder=self.folder, C=c) for c in self.Cs]

    def output(self):
        return luigi.LocalTarget(os.path.join(self.folder, "report.json"))

    def run(self):
        with self.output().open("w") as fh:
            json.dump({"models": [t.path for t in self.input()], "pid": os.getpid()}, fh)


@pytest.fixture
def pipeline():
    return SimpleNamespace(RawData=RawData, CleanData=CleanData, Features=Features,
                           TrainModel=TrainModel, Report=Report)


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "data"
    path.mkdir()
    return str(path)


@pytest.fixture
def luigi_tracking(tracking):
    """Luigi tracking on, into a fresh store (SQLite and PostgreSQL); yields the client."""
    mdb_luigi.track()
    yield tracking
    mdb_luigi.untrack()


def runs_by_name(client, project: str = "default") -> dict[str, list]:
    found: dict[str, list] = {}
    for run in sorted(client.store.list_runs(project=project, limit=1000), key=lambda r: (r.started_at, r.key)):
        found.setdefault(run.name, []).append(run)
    return found


@pytest.fixture
def by_name():
    return runs_by_name
