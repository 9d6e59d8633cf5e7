"""Code and environment capture, done once per process and cached.

Code: the git commit, branch, dirty flag and a hash of ``git diff HEAD`` of
the repository holding a function's source file, plus the source file,
qualified name and a hash of the function's source. Environment: Python
version, platform and every installed distribution with its version. Both are
deduplicated by a hash of their content.
"""
from __future__ import annotations

import functools
import hashlib
import inspect
import json
import os
import platform
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Callable

from .model import CodeVersion, Environment

_GIT_TIMEOUT = 5


def _sha256(text: str | bytes) -> str:
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _repo_root(path: Path) -> Path | None:
    for parent in (path, *path.parents):
        if (parent / ".git").exists():
            return parent
    return None


def _git(root: Path, *args: str) -> bytes | None:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True,
                              timeout=_GIT_TIMEOUT, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


@functools.lru_cache(maxsize=64)
def git_diff(root: Path) -> bytes | None:
    """``git diff HEAD --binary`` of a dirty tree (None when clean): what ``modeldb reproduce``
    applies on top of the commit. Its SHA-256 is the code version's ``git_diff_hash``, and so
    also its name in the artifact store."""
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    if not (status and status.strip()):
        return None
    return _git(root, "diff", "HEAD", "--binary") or None


# The most local modules followed from a function's module (its imports, theirs...).
MAX_LOCAL_MODULES = 200
# The diffs of this process by their hash: what the writer keeps in the artifact store.
_diffs: dict[str, bytes] = {}


def diff_content(diff_hash: str) -> bytes | None:
    """The bytes of a diff this process captured (``git_diff_hash`` names it)."""
    return _diffs.get(diff_hash)


def _imported_names(path: Path, package: str | None) -> set[str]:
    try:
        source = path.read_bytes()
    except OSError:
        return set()
    return imported_modules(source, package)


# CPython 3.11 before 3.11.8 keeps the parser's recursion depth in shared state: two threads
# parsing at once can raise "SystemError: AST constructor recursion depth mismatch"
# (python/cpython#106905). The writer and the web app's request threads both parse source.
_parsing = threading.Lock()


def imported_modules(source: str | bytes, package: str | None = None) -> set[str]:
    """The modules Python source imports, by absolute name (relative imports resolved from
    the importing module's ``package``; left out without one); empty if it does not parse."""
    import ast

    try:
        with _parsing:
            tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                if not package:
                    continue
                parts = package.split(".")
                if node.level > 1:
                    parts = parts[:-(node.level - 1)]
                base = ".".join([*parts, base] if base else parts)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
    # A package's __init__.py is imported with each of its modules.
    return names | {name.rsplit(".", depth)[0] for name in names for depth in range(1, name.count(".") + 1)}


def local_imports(root: Path, path: Path, package: str | None) -> list[Path]:
    """The source files under ``root`` of the modules ``path`` (of ``package``) imports, and
    theirs in turn (the loaded modules: what the function ran with), ``path`` left out."""
    found: list[Path] = []
    seen = {path}
    queue = [(path, package)]
    while queue and len(found) < MAX_LOCAL_MODULES:
        source, package = queue.pop()
        for name in sorted(_imported_names(source, package)):
            module = sys.modules.get(name)
            file = getattr(module, "__file__", None)
            if not file or not file.endswith(".py"):
                continue
            imported = Path(file).resolve()
            if imported in seen or root not in imported.parents:
                continue
            seen.add(imported)
            found.append(imported)
            queue.append((imported, getattr(module, "__package__", None)))
    return found


def untracked(root: Path, paths: list[Path]) -> list[Path]:
    """Those of ``paths`` (under ``root``) git does not track, in one ``git ls-files``."""
    if not paths:
        return []
    listed = _git(root, "ls-files", "-z", "--", *(str(p.relative_to(root)) for p in paths))
    if listed is None:
        return []
    tracked = {(root / name).resolve() for name in listed.decode(errors="surrogateescape").split("\0") if name}
    return [p for p in paths if p not in tracked]


@functools.lru_cache(maxsize=256)
def untracked_source(root: Path, path: Path, max_bytes: int, checked: bool = False) -> bytes | None:
    """A patch that creates ``path`` when it is a source file of at most ``max_bytes`` git
    does not track (a function defined in a file never committed), else None. ``checked``:
    the caller knows git does not track it."""
    try:
        relative = path.relative_to(root)
        if path.stat().st_size > max_bytes:
            return None
    except (ValueError, OSError):
        return None
    if not checked and _git(root, "ls-files", "--error-unmatch", "--", str(relative)) is not None:
        return None
    try:
        done = subprocess.run(["git", "-C", str(root), "diff", "--no-index", "--binary", "--", "/dev/null",
                               str(relative)], capture_output=True, timeout=_GIT_TIMEOUT, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 1 and done.stdout else None  # 1: the files differ


@functools.lru_cache(maxsize=64)
def git_state(root: Path) -> dict[str, Any]:
    commit = _git(root, "rev-parse", "HEAD")
    if commit is None:  # a repository with no commit yet, or no git
        return {"repo_path": str(root)}
    branch = _git(root, "rev-parse", "--abbrev-ref", "HEAD")
    diff = git_diff(root)
    dirty = diff is not None
    return {
        "repo_path": str(root),
        "git_commit": commit.decode().strip(),
        "git_branch": branch.decode().strip() if branch else None,
        "git_dirty": dirty,
        "git_diff_hash": _remember(diff) if diff else None,
    }


def _remember(diff: bytes) -> str:
    digest = _sha256(diff)
    _diffs[digest] = diff
    return digest


@functools.lru_cache(maxsize=256)
def untracked_sources(root: Path, path: Path, package: str | None, max_bytes: int) -> bytes:
    """The patch that creates ``path`` (a module of ``package``) and the local modules it
    imports (``local_imports``) that git does not track, each of at most ``max_bytes``
    (b"" when there is none)."""
    patches = [untracked_source(root, path, max_bytes)]
    patches += [untracked_source(root, p, max_bytes, checked=True)
                for p in untracked(root, local_imports(root, path, package))]
    return b"".join(p for p in patches if p)


def code_version(fn: Callable[..., Any] | None = None, source_file: str | None = None,
                 untracked_max_bytes: int = 1024 * 1024) -> CodeVersion:
    """The code version of ``fn`` (or of a source file, or of the main script). The source
    files git does not track that it needs (its own, the local modules it imports) are kept
    with the diff, each up to ``untracked_max_bytes`` (the ``untracked_source_max_bytes`` setting)."""
    fields: dict[str, Any] = {}
    target = inspect.unwrap(fn) if fn is not None else None
    if target is not None:
        try:
            source_file = inspect.getsourcefile(target) or source_file
        except TypeError:
            pass
        fields["function"] = f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', '?')}"
        try:
            fields["source_hash"] = _sha256(inspect.getsource(target))
        except (OSError, TypeError):
            pass
    if source_file is None and sys.argv and sys.argv[0] and os.path.exists(sys.argv[0]):
        source_file = sys.argv[0]
    if source_file:
        path = Path(source_file).resolve()
        fields["source_file"] = str(path)
        if "source_hash" not in fields and path.is_file():
            fields["source_hash"] = _sha256(path.read_bytes())
        root = _repo_root(path.parent)
        if root is not None:
            fields.update(git_state(root))
            module = sys.modules.get(getattr(target, "__module__", None) or "__main__")
            extra = untracked_sources(root, path, getattr(module, "__package__", None),
                                      untracked_max_bytes) if fields.get("git_commit") else None
            if extra:
                diff = (diff_content(fields["git_diff_hash"]) or b"") if fields.get("git_diff_hash") else b""
                fields["git_dirty"] = True
                fields["git_diff_hash"] = _remember(diff + extra)
    digest = _sha256(json.dumps(fields, sort_keys=True))
    return CodeVersion(hash=digest, **fields)


@functools.lru_cache(maxsize=1)
def environment() -> Environment:
    from importlib import metadata

    packages: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"] if dist.metadata else None
        if name:
            packages[name.lower()] = dist.version
    packages = dict(sorted(packages.items()))
    python_version = platform.python_version()
    plat = platform.platform()
    digest = _sha256(json.dumps([python_version, plat, packages]))
    return Environment(hash=digest, python_version=python_version, platform=plat, packages=packages)
