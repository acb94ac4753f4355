"""The documentation site builds warning-free and covers every public name.

The build runs offline: ``QNESS_DOCS_OFFLINE=1`` switches intersphinx off
(see ``docs/conf.py``), so a missing network does not turn into a warning.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import types

import pytest

import qness

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

pytest.importorskip("sphinx")
pytest.importorskip("myst_nb")


def _api_text() -> str:
    return "\n".join(p.read_text() for p in sorted((DOCS / "api").glob("*.rst")))


def _documented_names() -> set[str]:
    """Fully qualified names listed in the API pages' autosummary/autodata entries."""
    names = set()
    current = "qness"
    for line in _api_text().splitlines():
        s = line.strip()
        if s.startswith(".. currentmodule::"):
            current = s.split("::", 1)[1].strip()
        elif s.startswith(".. autodata::"):
            names.add(f"{current}.{s.split('::', 1)[1].strip()}")
        elif s and not s.startswith((":", "..")) and line.startswith("   ") and s.isidentifier():
            names.add(f"{current}.{s}")
    return names


def test_every_public_name_is_in_the_api_reference():
    documented = _documented_names()
    missing = []
    for name in qness.__all__:
        obj = getattr(qness, name)
        if isinstance(obj, types.ModuleType):
            page = DOCS / "api" / f"{name}.rst"
            if not page.exists():
                missing.append(f"qness.{name} (no page api/{name}.rst)")
                continue
            for sub in getattr(obj, "__all__", []):
                if f"qness.{name}.{sub}" not in documented:
                    missing.append(f"qness.{name}.{sub}")
        elif f"qness.{name}" not in documented:
            missing.append(f"qness.{name}")
    assert not missing, f"public names missing from docs/api: {missing}"


def test_readme_points_only_inside_the_repository():
    readme = (ROOT / "README.md").read_text()
    assert "../shared" not in readme
    assert "docs/architecture.rst" in readme


def _sphinx(builder: str, out: pathlib.Path, execute: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, QNESS_DOCS_OFFLINE="1", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    env.update(QNESS_DOCS_EXECUTE=execute, MPLBACKEND="Agg")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", builder, str(DOCS), str(out)]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_docs_build_html_without_warnings(tmp_path):
    # the tutorials are rendered without executing them here (tests/test_notebooks.py executes
    # them; the slow test below builds them executed, with their figures)
    proc = _sphinx("html", tmp_path / "html", execute="off")
    assert proc.returncode == 0, f"sphinx-build failed:\n{proc.stdout}\n{proc.stderr}"
    assert "WARNING" not in proc.stderr, proc.stderr
    html = tmp_path / "html"
    # every page of the user guide and the API pages of the acceptance list were written
    for page in [
        "index",
        "installation",
        "tour",
        "conventions",
        "architecture",
        "performance",
        "tutorials/index",
    ] + [f"tutorials/{nb.stem}" for nb in (ROOT / "examples").glob("*.ipynb")]:
        assert (html / f"{page}.html").exists(), page
    generated = html / "api" / "generated"
    for name in [
        "qness.steady_state",
        "qness.steady_states",
        "qness.spectrum",
        "qness.liouvillian_gap",
        "qness.from_qutip",
        "qness.ModelBuilder",
        "qness.scan.scan",
        "qness.gaussian.steady_state",
    ] + [f"qness.models.{m}" for m in qness.models.available()]:
        page = generated / f"{name}.html"
        assert page.exists(), name
    # the docstrings themselves are rendered, not just the names
    text = (generated / "qness.steady_state.html").read_text()
    assert "Parameters" in text and "Returns" in text


@pytest.mark.slow
def test_docs_build_html_with_executed_tutorials(tmp_path):
    """The build as published: every tutorial notebook executed, each page with a figure."""
    proc = _sphinx("html", tmp_path / "html", execute="force")
    assert proc.returncode == 0, f"sphinx-build failed:\n{proc.stdout}\n{proc.stderr}"
    notebooks = sorted((ROOT / "examples").glob("*.ipynb"))
    assert notebooks
    for nb in notebooks:
        page = tmp_path / "html" / "tutorials" / f"{nb.stem}.html"
        assert page.exists(), nb.name
        assert "<img" in page.read_text(), f"{nb.name}: no figure rendered"
