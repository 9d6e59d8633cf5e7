"""The documentation covers what the code offers: every command of `modeldb`, every setting."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import click

from modeldb_core import config
from modeldb_core.cli import cli

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def _docs_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(DOCS.rglob("*.md")))


def _commands(group: click.Group, prefix: str = "modeldb") -> list[str]:
    found = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            found += _commands(command, path)
        else:
            found.append(path)
    return found


def test_every_command_is_documented():
    commands = _commands(cli)
    assert len(commands) >= 14  # runs list/show/compare/diff/reap, best, lineage, ...
    text = _docs_text()
    missing = [c for c in commands if not re.search(re.escape(c) + r"\b", text)]
    assert not missing, f"commands not described under docs/: {missing}"


def test_every_setting_is_documented():
    page = (DOCS / "configuration.md").read_text(encoding="utf-8")
    keys = [f.name for f in dataclasses.fields(config.Settings)]
    assert "uri" in keys and "store_timeout" in keys
    missing = [k for k in keys if f"`{k}`" not in page]
    source = Path(config.__file__).read_text(encoding="utf-8")
    variables = sorted(set(re.findall(r"\bMODELDB_[A-Z0-9_]+\b", source)))
    assert "MODELDB_URI" in variables and "MODELDB_CONFIG" in variables
    missing += [v for v in variables if v not in page]
    assert not missing, f"settings not in docs/configuration.md: {missing}"


def test_every_page_is_in_the_site_navigation():
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    pages = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md"))
    for name in ("install.md", "security.md", "tracking-runtime.md", "sklearn.md", "luigi.md",
                 "prefect.md", "airflow.md", "query.md", "web-ui.md", "configuration.md",
                 "architecture.md", "tracking.md", "cli.md"):
        assert name in pages, name
    assert [p for p in pages if f": {p}" not in nav] == []


def test_the_readme_is_a_front_door():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.encode()) < 16_000
    assert "bash .ci/run" in readme
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^python3 -m nox\b", ci, re.M), "the README's test command is what .ci/run runs"
    for link in re.findall(r"\]\(([^)#]+)\)", readme):
        if "://" not in link:
            assert (ROOT / link).is_file(), link
