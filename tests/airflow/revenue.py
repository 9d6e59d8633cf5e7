"""The Luigi side of the cross-orchestrator lineage tests: a build that reads a file an
Airflow DAG exports and sums its amounts."""
from __future__ import annotations

import os

import luigi


class Orders(luigi.ExternalTask):
    """The file Airflow exports: Luigi does not make it, it only checks it exists."""

    path = luigi.Parameter()

    def output(self):
        return luigi.LocalTarget(self.path)


class Revenue(luigi.Task):
    source = luigi.Parameter()
    folder = luigi.Parameter()

    def requires(self):
        return Orders(path=self.source)

    def output(self):
        return luigi.LocalTarget(os.path.join(self.folder, "revenue.txt"))

    def run(self):
        with self.input().open() as fh:
            total = sum(float(line.split(",")[1]) for line in fh.read().splitlines()[1:])
        with self.output().open("w") as fh:
            fh.write(f"{total:.2f}\n")
