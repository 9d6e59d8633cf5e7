"""The release as a user gets it: the sdist and wheel built, checked, installed and used.

Nothing here imports the checkout. The wheel is installed non-editable into fresh
venvs (one per extra), and every command runs from a temp folder with a fresh HOME,
so a module missing from the wheel fails here even though the repository has it.
Run with ``nox -s package`` (it installs ``build``, ``twine`` and ``uv``).
"""
from __future__ import annotations

import ast
import email.parser
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Source folder -> where its files are installed (pyproject.toml / setup.py say the same).
SOURCE_ROOTS = {"modeldb_core": "modeldb_core", "store": "modeldb_core/store",
                "integrations": "modeldb_core/integrations"}
# Scripts, not modules to import: Alembic runs env.py inside a migration, and `python -m`
# runs a __main__.py; the CLI test below runs both from the installed wheel.
NOT_IMPORTABLE = {"modeldb_core.store.migrations.env", "modeldb_core.cli.__main__"}
# Every extra a user can install on its own; "" is the bare install.
EXTRAS = ["", "postgres", "sklearn", "ui", "luigi", "prefect", "airflow"]
# The environment as pytest found it: the fixtures give each test a temp HOME, and uv
# and build must keep using the machine's package cache under the real one.
OUTER_ENV = dict(os.environ)
# The venvs install in the background from the first test on (see `venvs`).
pytestmark = pytest.mark.usefixtures("venvs")

WALK = r"""
import importlib, json, pkgutil, sys, traceback
import modeldb_core

skip = set(json.loads(sys.argv[1]))
found, failed = [], {}

def note(name, exc):
    failed[name] = {"type": type(exc).__name__, "import_error": isinstance(exc, ImportError), "message": str(exc),
                    "where": traceback.format_exc(limit=-3)}

def walk_error(name):
    note(name, sys.exc_info()[1])

for info in pkgutil.walk_packages(modeldb_core.__path__, "modeldb_core.", onerror=walk_error):
    found.append(info.name)
for name in ["modeldb_core", *found]:
    if name in skip or name in failed:
        continue
    try:
        importlib.import_module(name)
    except BaseException as exc:
        note(name, exc)
print(json.dumps({"file": modeldb_core.__file__, "modules": sorted(set(["modeldb_core", *found, *failed])),
                  "failed": failed}))
"""


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    kwargs.setdefault("env", OUTER_ENV)
    done = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{' '.join(map(str, cmd))} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


class Dist:
    """The built artifacts: the sdist, the wheel built from it, and a wheel built from the tree."""

    def __init__(self, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        # `python -m build` with no flag builds the sdist, then the wheel from that sdist:
        # what a user installing from the sdist gets.
        built = _run([sys.executable, "-m", "build", "--installer", "uv", "--outdir", str(folder / "release"),
                      str(ROOT)])
        self.build_log = built.stdout + built.stderr
        self.folder = folder
        [self.sdist] = (folder / "release").glob("modeldb-*.tar.gz")
        [self.wheel] = (folder / "release").glob("modeldb-*.whl")
        with zipfile.ZipFile(self.wheel) as whl:
            self.files = set(whl.namelist())
            [meta] = [n for n in self.files if n.endswith(".dist-info/METADATA")]
            self.metadata = email.parser.Parser().parsestr(whl.read(meta).decode())
        self.version = self.metadata["Version"]
        self.extras = set(self.metadata.get_all("Provides-Extra") or [])
        self._background = ThreadPoolExecutor(max_workers=1)
        self.tree_wheel = self._background.submit(self._tree_wheel)  # while the venvs install

    def _tree_wheel(self) -> Path:
        """A wheel built straight from the checkout's files, as `pip install .` does.

        Built from a copy of the files git sees (tracked, or new and not ignored): setuptools
        reuses a checkout's build/ folder, and a module deleted since would ship from there.
        """
        tree = self.folder / "checkout"
        listed = _run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT).stdout
        for name in filter(None, listed.split("\0")):
            if (ROOT / name).is_file():
                (tree / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, tree / name)
        out = self.folder / "tree"
        _run([sys.executable, "-m", "build", "--installer", "uv", "--wheel", "--outdir", str(out), str(tree)])
        [wheel] = out.glob("modeldb-*.whl")
        return wheel


class Venv:
    """A fresh venv with the wheel installed (non-editable), run from a temp folder with a fresh HOME."""

    def __init__(self, folder: Path, wheel: Path, extras: str):
        self.folder = folder
        self.home = folder / "home"
        self.work = folder / "work"
        self.home.mkdir(parents=True)
        self.work.mkdir()
        self.extras = {e for e in extras.split(",") if e}
        uv = shutil.which("uv")
        assert uv, "uv is needed (pip install uv, or run `nox -s package`)"
        venv = folder / "venv"
        _run([uv, "venv", "-q", "--python", sys.executable, str(venv)])
        self.python = venv / "bin" / "python"
        self.bin = venv / "bin"
        spec = f"{wheel}[{extras}]" if extras else str(wheel)
        _run([uv, "pip", "install", "-q", "--python", str(self.python), spec])
        self.env = {k: v for k, v in OUTER_ENV.items()
                    if not k.startswith(("MODELDB_", "PYTHON", "VIRTUAL_ENV", "AIRFLOW", "PREFECT"))}
        self.env.update(HOME=str(self.home), AIRFLOW_HOME=str(self.home / "airflow"),
                        PREFECT_HOME=str(self.home / "prefect"), PATH=f"{self.bin}:{OUTER_ENV['PATH']}",
                        # Show every DeprecationWarning our own calls cause (Python hides most by default).
                        PYTHONWARNINGS="default::DeprecationWarning")
        self._walk: dict | None = None

    def run(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return _run(list(args), cwd=self.work, env=self.env, **kwargs)

    def modeldb(self, *args: str) -> str:
        done = self.run(str(self.bin / "modeldb"), *args)
        assert "DeprecationWarning" not in done.stderr, done.stderr
        return done.stdout

    def walk(self) -> dict:
        if self._walk is None:
            done = self.run(str(self.python), "-c", WALK, json.dumps(sorted(NOT_IMPORTABLE)))
            self._walk = json.loads(done.stdout.strip().splitlines()[-1])
        return self._walk


@pytest.fixture(scope="session")
def dist(tmp_path_factory) -> Dist:
    return Dist(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="session")
def venvs(tmp_path_factory, dist):
    """Venvs by extras, each installed (and walked, for the single extras) once, in the background.

    Installing and importing Airflow or Prefect takes tens of seconds, mostly waiting on
    the disk: the slow ones start first, two at a time, while the other tests run.
    """
    pool = ThreadPoolExecutor(max_workers=2)
    made: dict[str, Future] = {}

    def make(folder: Path, extras: str) -> Venv:
        venv = Venv(folder, dist.wheel, extras)
        if extras in EXTRAS:
            venv.walk()
        return venv

    def start(extras: str) -> Future:
        if extras not in made:
            made[extras] = pool.submit(make, tmp_path_factory.mktemp(f"venv-{extras or 'bare'}"), extras)
        return made[extras]

    for extras in ["sklearn,ui", "airflow", "prefect", *EXTRAS, "bench"]:
        start(extras)
    yield lambda extras: start(extras).result()
    pool.shutdown(cancel_futures=True)


def _installed_path(source: str) -> str:
    top, _, rest = source.partition("/")
    return f"{SOURCE_ROOTS[top]}/{rest}"


def test_twine_check_passes(dist):
    _run([sys.executable, "-m", "twine", "check", "--strict", str(dist.sdist), str(dist.wheel)])


def test_the_build_warns_of_nothing(dist):
    # setuptools' own warnings (a deprecated setting, a folder it would leave out) start "WARNING".
    said = [line for line in dist.build_log.splitlines() if line.startswith("WARNING") or "deprecat" in line.lower()]
    assert not said, "\n".join(said)


def test_wheel_holds_every_file_of_the_source_packages(dist):
    # Every tracked file under the three source roots, Python or not (templates, static files,
    # Alembic's script.py.mako, future alembic.ini...), is in the wheel at its installed path.
    tracked = _run(["git", "ls-files", *SOURCE_ROOTS], cwd=ROOT).stdout.split()
    assert tracked, "git ls-files found nothing to compare with"
    missing = sorted(_installed_path(f) for f in tracked if _installed_path(f) not in dist.files)
    assert not missing, f"the wheel lacks {missing}"
    stray = sorted(f for f in dist.files if not f.startswith(("modeldb_core/", f"modeldb-{dist.version}.dist-info/")))
    assert not stray, f"the wheel installs outside modeldb_core: {stray}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_end_to_end_from_the_wheel_with_sklearn_and_ui(dist, venvs):
    venv = venvs("sklearn,ui")
    shown = venv.modeldb("demo")
    assert "ModelDB recorded" in shown and "Best: " in shown
    assert (venv.home / ".modeldb" / "modeldb.db").exists(), "the default store is not under the fresh HOME"

    runs = json.loads(venv.modeldb("runs", "list", "--json"))
    names = {r["name"] for r in runs}
    assert {"generate_raw_data", "clean_data", "build_features", "train_model", "evaluate_model"} <= names, names
    assert {"Pipeline", "GridSearchCV"} <= names, f"no scikit-learn run from the demo: {sorted(names)}"
    assert all(r["status"] == "succeeded" for r in runs), [(r["name"], r["status"]) for r in runs]

    best = json.loads(venv.modeldb("best", "--metric", "rmse", "--json"))
    scored = [r["metrics"]["rmse"] for r in runs if "rmse" in r["metrics"]]
    assert len(scored) >= 4 and best["metrics"]["rmse"] == min(scored)  # 4 versions + the scikit-learn models

    # The lineage of an evaluation reaches the data preparation (the best model may be a
    # scikit-learn one, which reads in-memory frames).
    evaluation = next(r for r in runs if r["name"] == "evaluate_model")
    graph = json.loads(venv.modeldb("lineage", f"run:{evaluation['id']}", "--up", "--json"))
    upstream = {n["label"] for n in graph["nodes"] if n["kind"] == "run"}
    assert {"train_model", "clean_data", "generate_raw_data"} <= upstream, upstream

    assert "already at revision" in venv.modeldb("db", "upgrade")  # the demo's store is at head
    fresh = f"sqlite:///{venv.work / 'fresh.db'}"
    venv.modeldb("--uri", fresh, "db", "upgrade")
    assert json.loads(venv.modeldb("--uri", fresh, "runs", "list", "--json")) == []

    assert venv.modeldb("--version").strip() == f"modeldb {dist.version}"
    by_module = venv.run(str(venv.python), "-m", "modeldb_core.cli", "--version").stdout
    assert by_module.strip() == f"modeldb {dist.version}"

    port = _free_port()
    server = subprocess.Popen([str(venv.bin / "modeldb"), "ui", "--port", str(port)], cwd=venv.work,
                              env=venv.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        page = None
        deadline = time.monotonic() + 30
        while page is None and time.monotonic() < deadline:
            assert server.poll() is None, f"modeldb ui exited:\n{server.communicate()[1]}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as answer:
                    assert answer.status == 200
                    page = answer.read().decode()
            except OSError:
                time.sleep(0.2)
        assert page is not None, "modeldb ui did not answer / within 30 s"
        assert "house-prices" in page
    finally:
        server.terminate()
        _, err = server.communicate(timeout=10)
    assert "Traceback" not in err and "DeprecationWarning" not in err, err


def test_postgres_extra_upgrades_and_reads_a_real_postgresql(venvs, postgres_server):
    venv = venvs("postgres")
    uri = postgres_server.new_database()
    venv.modeldb("--uri", uri, "db", "upgrade")
    assert json.loads(venv.modeldb("--uri", uri, "runs", "list", "--json")) == []


def test_wheel_from_sdist_has_the_same_files_as_from_the_tree(dist):
    with zipfile.ZipFile(dist.tree_wheel.result()) as whl:
        from_tree = set(whl.namelist())
    assert dist.files == from_tree, (f"only from the sdist: {sorted(dist.files - from_tree)}; "
                                     f"only from the tree: {sorted(from_tree - dist.files)}")


def test_one_version_everywhere(dist, venvs):
    source = ast.parse((ROOT / "modeldb_core" / "__init__.py").read_text())
    [declared] = [n.value.value for n in source.body if isinstance(n, ast.Assign)
                  and any(getattr(t, "id", None) == "__version__" for t in n.targets)]
    assert dist.version == declared
    assert dist.sdist.name == f"modeldb-{declared}.tar.gz"
    assert venvs("").modeldb("--version").strip() == f"modeldb {declared}"
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert re.search(rf"^## \[?{re.escape(declared)}\]?", changelog, re.M), f"CHANGELOG.md has no {declared} section"
    assert re.search(r"^## \[?Unreleased\]?", changelog, re.M), "CHANGELOG.md has no Unreleased section"


def _names_an_extra(message: str, extras: set[str]) -> set[str]:
    """The extras a message tells the user to install, beyond Python's bare 'No module named ...'."""
    told = re.sub(r"No module named '[^']*'", "", message)
    # Not inside a dotted name: "modeldb_core.integrations.airflow" names a module, not the extra.
    return {e for e in extras if re.search(rf"(?<![\w.-]){re.escape(e)}(?![\w-])", told)}


@pytest.mark.parametrize("extras", EXTRAS, ids=[e or "bare" for e in EXTRAS])
def test_every_module_imports_or_names_its_extra(dist, venvs, extras):
    venv = venvs(extras)
    walked = venv.walk()
    assert walked["file"].startswith(str(venv.folder)), f"imported {walked['file']}, not the installed wheel"
    in_wheel = {p[:-3].replace("/", ".").removesuffix(".__init__") for p in dist.files if p.endswith(".py")}
    assert in_wheel - NOT_IMPORTABLE <= set(walked["modules"]), \
        f"pkgutil.walk_packages did not reach {sorted(in_wheel - NOT_IMPORTABLE - set(walked['modules']))}"
    problems = []
    for name, failure in sorted(walked["failed"].items()):
        named = _names_an_extra(failure["message"], dist.extras)
        if not failure["import_error"]:
            problems.append(f"{name}: {failure['type']}: {failure['message']}\n{failure['where']}")
        elif not named:
            problems.append(f"{name}: {failure['message']!r} does not say which extra to install")
        elif named <= venv.extras:
            problems.append(f"{name}: {failure['message']!r} although {sorted(named)} is installed")
    assert not problems, "\n".join(problems)


def test_every_module_imports_with_some_extra(venvs):
    never = None
    for extras in EXTRAS:
        failed = set(venvs(extras).walk()["failed"])
        never = failed if never is None else never & failed
    assert not never, f"no install imports {sorted(never)}"


def test_bench_extra_has_what_bench_scripts_import(venvs):
    # bench_airflow/bench_prefect add their own extra (they cannot share an environment);
    # bench_core installs MLflow into a venv of its own.
    own_environment = {"airflow", "prefect", "mlflow"}
    wanted = set()
    for script in sorted((ROOT / "bench").glob("*.py")):
        for node in ast.walk(ast.parse(script.read_text())):
            if isinstance(node, ast.Import):
                wanted |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                wanted.add(node.module.split(".")[0])
    local = {p.stem for folder in ("bench", "tests") for p in (ROOT / folder).rglob("*.py")}  # e.g. conftest
    wanted -= own_environment | local | set(sys.stdlib_module_names)
    check = "import importlib.util, sys; print(' '.join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))"
    missing = venvs("bench").run(str(venvs("bench").python), "-c", check, *sorted(wanted)).stdout.split()
    assert not missing, f"the bench extra lacks {missing} (imported by bench/)"
