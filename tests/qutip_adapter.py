"""Run QuTiP's own steady-state tests against qness (issue 13, "A peer's test suite").

``steadystate(A, c_ops, method=..., solver=..., **kwargs)`` below has QuTiP's signature and
solves with qness, mapping QuTiP's methods and options onto qness's:

=====================================  ==============================================
QuTiP                                  qness
=====================================  ==============================================
``"direct"`` (``sparse=False``)        ``Dense()``
``"direct"``                           ``Direct()``; ``solver="splu"/"spsolve"/...``
                                       -> ``Direct``, another name is passed on as
                                       ``Direct(backend=...)`` (qness refuses it)
``"eigen"``, ``"svd"``                 ``Dense()`` (the null vector of ``L``)
``"power"`` (inverse iteration)        ``Direct()``; ``solver="gmres"/"bicgstab"``
                                       -> ``Krylov(solver=...)``
``"power-gmres"`` etc.                 ``Krylov(solver=...)`` at qness's default
                                       ``rtol``: QuTiP's ``tol`` there is the inner
                                       solve's, not the result's accuracy
``"iterative-gmres/lgmres/bicgstab"``  ``Krylov(solver=..., rtol=rtol)``
``"propagator"``                       ``Evolve(rho0=rho, dt=propagator_T,
                                       t_max=propagator_T * 2**propagator_max_iter)``
                                       (residual to qness's default ``rtol``)
=====================================  ==============================================

Orderings and preconditioner switches (``use_rcm``, ``use_wbm``, ``use_precond``,
``weight``, ``atol``, ``power_*``) are QuTiP's internal choices: qness makes its own and they
are dropped. Any other keyword is passed to the qness method, which refuses unknown ones
with ``TypeError`` (as QuTiP does). A ``Qobj`` of type ``"super"`` is taken as the
Liouvillian, with ``c_ops`` added as dissipators (as QuTiP does). The result is returned as a
``Qobj``.

Usage (QuTiP's test file is QuTiP's code and stays outside this repository)::

    python tests/qutip_adapter.py /path/to/qutip/tests/solver/test_steadystate.py

writes a ``conftest.py`` beside a copy of the file in a temporary directory that patches
``qutip.steadystate`` with :func:`steadystate`, and runs pytest there. The test
``tests/test_qutip_suite.py`` does the same when ``QNESS_QUTIP_TESTS`` names the file
(marked slow; skipped otherwise).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

import qness

#: QuTiP options that select QuTiP's internal orderings and preconditioners.
_DROPPED = {"use_rcm", "use_wbm", "use_precond", "weight", "atol", "power_tol", "power_maxiter", "power_eps"}
_DIRECT_SOLVERS = {None, "spsolve", "splu", "mkl", "mkl_spsolve", "solve", "lstsq"}
_KRYLOV_SOLVERS = {"gmres", "lgmres", "bicgstab"}


def steadystate(A, c_ops=(), *, method="direct", solver=None, **kwargs):
    """QuTiP's ``steadystate`` signature, solved by qness (see the module notes)."""
    c_ops = list(c_ops)
    if getattr(A, "type", None) == "super":
        model = qness.from_liouvillian(A, c_ops)
    else:
        model = (A, c_ops)
    if "-" in method:
        method, solver = method.split("-", 1)
    kw = dict(kwargs)
    rho0 = kw.pop("rho", None)
    sparse = kw.pop("sparse", True)
    rtol = kw.pop("rtol", kw.pop("tol", None))
    prop = {k: kw.pop(k) for k in ("propagator_T", "propagator_tol", "propagator_max_iter") if k in kw}
    for key in _DROPPED:
        kw.pop(key, None)
    if method == "direct":
        if solver in _KRYLOV_SOLVERS:
            qmethod = qness.Krylov(solver=solver, **({"rtol": rtol} if rtol else {}))
        elif solver in _DIRECT_SOLVERS:
            qmethod = qness.Dense() if (sparse is False or solver in ("solve", "lstsq")) else qness.Direct()
        else:
            qmethod = qness.Direct(backend=solver)
    elif method in ("eigen", "svd"):
        qmethod = qness.Dense()
    elif method == "power":
        qmethod = qness.Krylov(solver=solver) if solver in _KRYLOV_SOLVERS else qness.Direct()
    elif method == "iterative":
        qmethod = qness.Krylov(solver=solver or "gmres", **({"rtol": rtol} if rtol else {}))
    elif method == "propagator":
        T = float(prop.get("propagator_T", 10.0))
        qmethod = qness.Evolve(
            rho0=None if rho0 is None else rho0.full(),
            dt=T,
            t_max=T * 2.0 ** int(prop.get("propagator_max_iter", 30)),
            # QuTiP's tolerance bounds the change of the state per (doubled) period, qness's the
            # residual ||L vec(rho)||: qness's default (1e-12 of ||L||_1), tighter than QuTiP's
        )
    else:
        qmethod = method  # qness refuses an unknown name with ValueError, as QuTiP does
    return qness.steady_state(model, method=qmethod, **kw).to_qobj()


_CONFTEST = """
import sys
sys.path.insert(0, {tests!r})
import qutip
import qutip.solver.steadystate as _ss
import qutip_adapter

qutip.steadystate = qutip_adapter.steadystate
_ss.steadystate = qutip_adapter.steadystate
"""


def run_suite(path: str, *pytest_args: str) -> int:
    """Run QuTiP's test file at ``path`` with ``qutip.steadystate`` redirected to qness."""
    tests = os.path.dirname(os.path.abspath(__file__))
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(path, os.path.join(tmp, "test_steadystate.py"))
        with open(os.path.join(tmp, "conftest.py"), "w") as fh:
            fh.write(_CONFTEST.format(tests=tests))
        # QuTiP's suite runs with its own warning settings, not qness's filterwarnings=error
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", os.devnull]
        cmd += ["--rootdir", tmp, tmp]
        # this checkout's qness, not whichever one is installed
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.dirname(tests), tests]))
        return subprocess.call(cmd + list(pytest_args), cwd=tmp, env=env)


if __name__ == "__main__":
    sys.exit(run_suite(*sys.argv[1:]))
