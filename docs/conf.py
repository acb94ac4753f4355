"""Sphinx configuration for the qness documentation.

Build: ``python -m sphinx -W --keep-going -b html docs docs/_build/html``.

Intersphinx links to NumPy, SciPy, QuTiP and matplotlib need their
``objects.inv`` inventories from the network. Offline (no connection to
numpy.org, or ``QNESS_DOCS_OFFLINE=1``, as the test suite sets) intersphinx is switched off
so that the warning-free build does not depend on the network; references to
those projects then render as plain text instead of links.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import socket
import sys

sys.path.insert(0, os.path.abspath(".."))

import qness  # noqa: E402

project = "qness"
author = "the qness developers"
copyright = "2026, the qness developers"
version = release = qness.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_nb",
]

# Tutorials: the notebooks of examples/ (committed without outputs) are copied
# into docs/tutorials/ (not committed) and executed at build time by myst-nb,
# so the pages show their outputs and figures. QNESS_DOCS_EXECUTE=off renders
# them without executing (fast; no outputs).
_here = pathlib.Path(__file__).resolve().parent
_tutorials = _here / "tutorials"
_tutorials.mkdir(exist_ok=True)
_sources = {nb.name: nb for nb in (_here.parent / "examples").glob("*.ipynb")}
for _stale in _tutorials.glob("*.ipynb"):
    if _stale.name not in _sources:
        _stale.unlink()
for _nb in sorted(_sources.values()):
    _dst = _tutorials / _nb.name
    if not _dst.exists() or _dst.read_bytes() != _nb.read_bytes():
        shutil.copyfile(_nb, _dst)
nb_execution_mode = os.environ.get("QNESS_DOCS_EXECUTE", "force")
nb_execution_timeout = 300
nb_execution_raise_on_error = True
nb_execution_show_tb = True
os.environ.setdefault("MPLBACKEND", "Agg")

templates_path = ["_templates"]
# docs/performance.rst includes benchmarks/RESULTS.md (Markdown) below its own title, so the
# file's sections start at level 2 by design
suppress_warnings = ["myst.header"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "jupyter_execute"]
root_doc = "index"

# API reference: autosummary writes one page per public name into api/generated.
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": True, "show-inheritance": False}
autodoc_member_order = "bysource"
autodoc_typehints = "none"

# numpydoc-style docstrings, read by napoleon (part of Sphinx).
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_preprocess_types = False
napoleon_use_ivar = True

intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable", None),
    "scipy": ("https://docs.scipy.org/doc/scipy", None),
    "qutip": ("https://qutip.readthedocs.io/en/stable", None),
    "matplotlib": ("https://matplotlib.org/stable", None),
}


def _online(host: str = "numpy.org", port: int = 443, timeout: float = 3.0) -> bool:
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError:
        return False
    return True


# A failed inventory download is a warning, and the build runs with -W: offline
# (QNESS_DOCS_OFFLINE=1, or no connection to numpy.org) intersphinx is switched off.
if os.environ.get("QNESS_DOCS_OFFLINE", "") not in ("", "0") or not _online():
    print("qness docs: offline, intersphinx links to NumPy/SciPy/QuTiP/matplotlib are left out")
    intersphinx_mapping = {}
intersphinx_timeout = 10

html_theme = "alabaster"
html_title = f"qness {release}"
html_static_path: list[str] = []
