"""Every public name documents what it takes and what it gives (numpydoc sections).

For each name in ``qness.__all__`` (and the ``__all__`` of its public
submodules): a docstring; every parameter of a function, method-less
constructor or dataclass named in its ``Parameters`` (or, for classes, its
``Attributes``) section; a ``Returns`` (or ``Yields``) section for a function
that returns something. ``*args``/``**kwargs`` may be described under their
own names or in the text.
"""

from __future__ import annotations

import inspect
import types
import warnings

import pytest
from numpydoc import docscrape as numpydoc_docscrape

import qness


def _public():
    for name in qness.__all__:
        obj = getattr(qness, name)
        if isinstance(obj, types.ModuleType):
            for sub in getattr(obj, "__all__", []):
                yield f"qness.{name}.{sub}", getattr(obj, sub)
        else:
            yield f"qness.{name}", obj


PUBLIC = [(n, o) for n, o in _public() if callable(o)]


def _documented(doc, sections) -> set[str]:
    names = set()
    for sec in sections:
        for p in doc[sec]:
            for part in p.name.replace("*", "").split(","):
                names.add(part.strip())
    return names


def _returns_nothing(fn) -> bool:
    ann = inspect.signature(fn).return_annotation
    return ann in (None, "None") or ann is type(None)


@pytest.mark.parametrize("name,obj", PUBLIC, ids=[n for n, _ in PUBLIC])
def test_public_docstring_sections(name, obj):
    assert inspect.getdoc(obj), f"{name} has no docstring"
    is_class = inspect.isclass(obj)
    if is_class and issubclass(obj, BaseException):
        return  # exceptions take a message
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpydoc warns about custom section titles
        doc = (numpydoc_docscrape.ClassDoc if is_class else numpydoc_docscrape.FunctionDoc)(obj)
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return
    params = [
        p.name
        for p in sig.parameters.values()
        if p.name not in ("self", "cls")
        and not p.name.startswith("_")  # private dataclass fields
        and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    sections = ["Parameters", "Other Parameters"] + (["Attributes"] if is_class else [])
    missing = [p for p in params if p not in _documented(doc, sections)]
    assert not missing, f"{name}: parameters not documented: {missing}"
    if not is_class and not _returns_nothing(obj):
        assert doc["Returns"] or doc["Yields"], f"{name}: no Returns section"
