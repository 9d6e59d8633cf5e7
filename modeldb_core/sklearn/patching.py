"""Putting hooks on estimator methods, and taking every one of them off again.

Every subclass of ``sklearn.base.BaseEstimator`` (and every base class of
one, so mixins like ``TransformerMixin`` too) that defines one of the hooked
methods in its own class body gets a wrapper in its place: the classes
that exist when ``autolog()`` is called (found through ``__subclasses__``), and
the ones defined later (sklearn modules imported afterwards, the user's own
estimators), through a ``BaseEstimator.__init_subclass__`` hook. A class that
inherits the method is covered by its parent's wrapper, so ``self`` may be any
subclass.

Methods that scikit-learn exposes conditionally (``available_if``, so that
``hasattr(pipeline, "predict_proba")`` follows the final step) keep their
descriptor: the wrapper sits behind it and is only handed out when the
original would have been. ``unpatch_all`` puts back the exact objects that
were there.

Module-level functions (the ``sklearn.metrics`` scores, the cross-validation
functions) are replaced by a :class:`ReplacedFunction`, which pickles as the
original function: a scorer or a search holding one, saved while autolog is
on, loads where ModelDB is not installed, and a name bound to it stays
picklable after ``autolog(disable=True)``.
"""
from __future__ import annotations

import copy
import functools
import threading
import types
from typing import Any, Callable

# hook(name, estimator, bound_original, args, kwargs) -> result
Hook = Callable[[str, Any, Callable[..., Any], tuple, dict], Any]

_lock = threading.RLock()
# (class, attribute name) -> (the object that was in the class __dict__, what we put there)
_originals: dict[tuple[type, str], tuple[Any, Any]] = {}
_hooks: dict[str, Hook] = {}
_subclass_hook_installed = False


class _Guarded:
    """A conditional-method descriptor with the hook behind it."""

    __slots__ = ("original", "name", "__wrapped__")

    def __init__(self, original: Any, name: str):
        self.original = original
        self.name = name
        self.__wrapped__ = original

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        bound = self.original.__get__(obj, owner)  # raises AttributeError when unavailable
        if obj is None:
            return bound
        hook = _hooks.get(self.name)
        if hook is None:
            return bound
        name = self.name
        function = getattr(bound, "__func__", None)
        if function is None:  # not a method: nothing to pickle by name
            @functools.wraps(bound)
            def plain(*args: Any, **kwargs: Any) -> Any:
                return hook(name, obj, bound, args, kwargs)

            return plain

        @functools.wraps(function)
        def call(instance: Any, *args: Any, **kwargs: Any) -> Any:
            return hook(name, instance, bound, args, kwargs)

        # A bound method pickles as getattr(obj, name), like the original's.
        return types.MethodType(call, obj)


class ReplacedFunction:
    """A module-level function with ``hook`` in front of it, that passes for the function.

    A plain wrapper function cannot be pickled: pickle finds functions by
    module and name, and that name still holds the original. This object
    pickles (and deep-copies for ``clone``) as the original itself, binds as a
    method like a function, and shows the original's name, signature and docs.
    """

    def __init__(self, original: Callable[..., Any], hook: Callable[..., Any]):
        functools.update_wrapper(self, original)
        self._hook = hook
        self.__modeldb_patched__ = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._hook(*args, **kwargs)

    def __reduce__(self) -> tuple:
        # copy.copy returns a function unchanged: loading needs only the standard library and
        # the original's module, never ModelDB.
        return copy.copy, (self.__wrapped__,)

    def __copy__(self) -> "ReplacedFunction":
        return self

    def __deepcopy__(self, memo: dict) -> "ReplacedFunction":
        return self

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        return self if obj is None else types.MethodType(self, obj)

    def __repr__(self) -> str:
        return repr(self.__wrapped__)


def _function_wrapper(original: Callable[..., Any], name: str) -> Callable[..., Any]:
    @functools.wraps(original)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        hook = _hooks.get(name)
        bound = original.__get__(self, type(self))
        if hook is None:
            return bound(*args, **kwargs)
        return hook(name, self, bound, args, kwargs)

    wrapper.__modeldb_patched__ = True  # type: ignore[attr-defined]
    return wrapper


def _patch_class(cls: type) -> None:
    for name in _hooks:
        if (cls, name) in _originals or name not in cls.__dict__:
            continue
        original = cls.__dict__[name]
        if isinstance(original, (staticmethod, classmethod)):
            continue
        if callable(original) and hasattr(original, "__get__") and type(original).__name__ == "function":
            replacement: Any = _function_wrapper(original, name)
        elif hasattr(original, "__get__"):
            replacement = _Guarded(original, name)
        else:
            continue
        try:
            setattr(cls, name, replacement)
        except (TypeError, AttributeError):  # a class that refuses new attributes
            continue
        _originals[(cls, name)] = (original, replacement)


def _all_subclasses(root: type) -> list[type]:
    seen: dict[type, None] = {}
    stack = [root]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub not in seen:
                seen[sub] = None
                stack.append(sub)
    return list(seen)


def _with_bases(classes: list[type]) -> list[type]:
    """The classes and every base they have: mixins (``TransformerMixin.fit_transform``,
    ``ClusterMixin.fit_predict``) define methods estimators inherit without being estimators."""
    seen: dict[type, None] = {}
    for cls in classes:
        for klass in cls.__mro__:
            if klass is not object:
                seen[klass] = None
    return list(seen)


def patch_all(hooks: dict[str, Hook]) -> None:
    """Hook ``hooks``' methods on every estimator class, now and as new ones are defined."""
    global _subclass_hook_installed
    from sklearn.base import BaseEstimator

    with _lock:
        _hooks.update(hooks)
        for cls in _with_bases([BaseEstimator, *_all_subclasses(BaseEstimator)]):
            _patch_class(cls)
        if not _subclass_hook_installed:
            _install_subclass_hook(BaseEstimator)
            _subclass_hook_installed = True


def _install_subclass_hook(base: type) -> None:
    def __init_subclass__(cls: type, **kwargs: Any) -> None:
        # The parent's hook (scikit-learn's metadata routing) runs first, unchanged.
        super(base, cls).__init_subclass__(**kwargs)  # type: ignore[misc]
        if _hooks:
            with _lock:
                for klass in _with_bases([cls]):
                    _patch_class(klass)

    __init_subclass__.__modeldb_patched__ = True  # type: ignore[attr-defined]
    base.__init_subclass__ = classmethod(__init_subclass__)  # type: ignore[assignment]


def unpatch_all() -> None:
    """Put every original method back and stop hooking new classes."""
    global _subclass_hook_installed
    with _lock:
        for (cls, name), (original, replacement) in list(_originals.items()):
            if cls.__dict__.get(name) is not replacement:
                # Something wrapped ours since (scikit-learn's set_output wraps a new
                # class's own fit_transform): leave it; with no hooks ours passes through.
                continue
            try:
                setattr(cls, name, original)
            except (TypeError, AttributeError):
                pass
        _originals.clear()
        _hooks.clear()
        if _subclass_hook_installed:
            from sklearn.base import BaseEstimator

            if "__init_subclass__" in BaseEstimator.__dict__:
                delattr(BaseEstimator, "__init_subclass__")
            _subclass_hook_installed = False


def patched_count() -> int:
    return len(_originals)


def original_of(cls: type, name: str) -> Any:
    """The method ``cls`` had before patching (or its current one)."""
    found = _originals.get((cls, name))
    return found[0] if found else cls.__dict__.get(name)
