"""The public API is annotated: every parameter and return of what `albert_np` exports.

`albert_np/py.typed` tells type checkers to read these hints. The test walks `albert_np.__all__`:
functions, and each exported class's public methods (plus __init__ and __call__), and asks
`typing.get_type_hints` to resolve every annotation, so a hint that names something missing
fails here (on the lowest supported Python too, .ci/run's .venv-lowest).
"""
import inspect
import os
import typing

import pytest

import albert_np

PUBLIC_DUNDERS = ("__init__", "__call__")


def public_callables():
    """(qualified name, function) for each exported function and method of an exported class."""
    for name in albert_np.__all__:
        obj = getattr(albert_np, name)
        if inspect.isfunction(obj):
            yield name, obj
        elif inspect.isclass(obj):
            for klass in obj.__mro__:
                if not klass.__module__.startswith("albert_np"):
                    continue
                for attr, value in vars(klass).items():
                    if attr.startswith("_") and attr not in PUBLIC_DUNDERS:
                        continue
                    func = value.__func__ if isinstance(value, (classmethod, staticmethod)) else value
                    if isinstance(value, property):
                        func = value.fget
                        if func.__name__ == "<lambda>":     # the tokenizers' special tokens: str, and int ids
                            continue
                    if inspect.isfunction(func):
                        yield f"{name}.{attr}", func


CALLABLES = sorted(dict(public_callables()).items())


def test_the_walk_finds_the_api():
    names = {n for n, _ in CALLABLES}
    assert {"fill_mask", "AlbertForMaskedLM.forward", "AlbertForMaskedLM.from_pretrained",
            "AlbertTokenizerFast.__call__", "AlbertConfig.__init__", "pipeline"} <= names
    assert len(CALLABLES) > 60


@pytest.mark.parametrize("name, func", CALLABLES, ids=[n for n, _ in CALLABLES])
def test_every_parameter_and_return_is_annotated(name, func):
    signature = inspect.signature(func)
    missing = [p for p, param in signature.parameters.items()
               if p not in ("self", "cls") and param.annotation is inspect.Parameter.empty]
    if signature.return_annotation is inspect.Signature.empty:
        missing.append("return")
    assert not missing, f"{name}: no annotation for {missing}"
    typing.get_type_hints(func)          # every name in the hints resolves


def test_the_package_says_it_is_typed():
    assert os.path.isfile(os.path.join(os.path.dirname(albert_np.__file__), "py.typed"))
