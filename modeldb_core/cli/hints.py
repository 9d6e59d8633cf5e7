""""Did you mean ...?": a name that matches nothing is answered with the closest names that exist.

A filter on a misspelt key is valid and simply matches no run, and a project
that does not exist has no runs: both would print "No runs match." and leave
the user guessing. These helpers compare what was typed with the keys and
projects the store holds (difflib's ratio, case-insensitive) so the command
can say what it did not find and what was probably meant.
"""
from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Iterable, Sequence

if TYPE_CHECKING:
    from modeldb_core.query import Field
    from modeldb_core.store import MetadataStore

# The field kinds that name a key, and how key_names() calls them.
_PLURAL = {"metric": "metrics", "param": "params", "tag": "tags"}


def closest(word: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """The names in ``choices`` closest to ``word``, best first (case is ignored)."""
    by_folded: dict[str, str] = {}
    for choice in choices:
        by_folded.setdefault(choice.casefold(), choice)
    folded = word.casefold()
    if folded in by_folded:
        return [by_folded[folded]]
    return [by_folded[m] for m in difflib.get_close_matches(folded, list(by_folded), n=n, cutoff=0.6)]


def did_you_mean(suggestions: Sequence[str]) -> str:
    """`` (did you mean 'a' or 'b'?)``, or nothing."""
    if not suggestions:
        return ""
    return " (did you mean " + " or ".join(suggestions) + "?)"


def _field(kind: str, key: str) -> "Field":
    from modeldb_core.query import Field

    return Field(kind, key)


def unknown_keys(store: "MetadataStore", fields: Iterable["Field"]) -> list[str]:
    """One message per param/metric/tag key that no run has, with the keys that come closest.

    Keys are looked up over every project: a key another project uses is not a typo.
    """
    keyed = list(dict.fromkeys(f for f in fields if f.kind in _PLURAL))
    if not keyed:
        return []
    names = store.key_names()
    messages = []
    for f in keyed:
        existing = names.get(_PLURAL[f.kind], [])
        if f.key in existing:
            continue
        # The same key under another kind first (params.rmse for metrics.rmse), then near spellings.
        others = [str(_field(kind, f.key)) for kind in _PLURAL
                  if kind != f.kind and f.key in names.get(_PLURAL[kind], [])]
        near = [str(_field(f.kind, k)) for k in closest(f.key, existing)]
        messages.append(f"no run has a {f.kind} named {f.key!r}" + did_you_mean((others + near)[:3]))
    return messages


def unknown_project(store: "MetadataStore", project: str | None) -> str | None:
    """A message if ``project`` is not a project in the store, naming the closest ones."""
    if project is None:
        return None
    names = [p.name for p in store.list_projects()]
    if project in names:
        return None
    near = [repr(n) for n in closest(project, names)]
    if not near and names and len(names) <= 10:
        return f"no project named {project!r} (projects: {', '.join(sorted(names))})"
    return f"no project named {project!r}" + did_you_mean(near)


def key_field(store: "MetadataStore", text: str, kinds: Sequence[str] = ("metric", "param", "tag")) -> "Field":
    """A field from what the user typed: ``metrics.rmse``, ``params.model``, ``status``, or a bare key.

    A bare key (``rmse``) is the param, metric or tag of that name when exactly
    one kind has it; two kinds having it is an error asking for the prefix.
    """
    from modeldb_core.errors import QueryError
    from modeldb_core.query.language import parse_field

    try:
        return parse_field(text)
    except QueryError as exc:
        word = text.strip()
        if not word or any(c in word for c in " .\"'()"):
            raise
        names = store.key_names()
        having = [kind for kind in kinds if word in names.get(_PLURAL[kind], [])]
        if len(having) == 1:
            return _field(having[0], word)
        if len(having) > 1:
            spelled = " or ".join(str(_field(kind, word)) for kind in having)
            raise QueryError(f"{word!r} is the name of a {' and a '.join(having)}: write {spelled}") from None
        near = [str(_field(kind, k)) for kind in kinds for k in closest(word, names.get(_PLURAL[kind], []))]
        if near:
            message = exc.message.split("; expected", 1)[0]
            raise QueryError(message + did_you_mean(near[:3]), exc.text, exc.position) from None
        raise


def hint_unknown_field(store: "MetadataStore", exc) -> Exception:
    """A parse error about an unknown bare field, with the keys it probably meant (``rmse`` -> ``metrics.rmse``)."""
    from modeldb_core.errors import QueryError

    if not isinstance(exc, QueryError) or not exc.message.startswith("unknown field") \
            or exc.position is None or not exc.text:
        return exc
    rest = exc.text[exc.position:]
    word = ""
    for ch in rest:
        if not (ch.isalnum() or ch in "_-"):
            break
        word += ch
    if not word:
        return exc
    names = store.key_names()
    near = [str(_field(kind, k)) for kind in _PLURAL for k in closest(word, names.get(_PLURAL[kind], []))]
    if not near:
        return exc
    message = exc.message.split("; expected", 1)[0]
    return QueryError(message + did_you_mean(near[:3]), exc.text, exc.position)
