"""Build examples/current_fluctuations.ipynb (no outputs): ``python examples/_make_counting_notebook.py``.

Kept apart from ``_make_notebooks.py`` (same helpers, same conventions) so that
branches adding notebooks do not edit one file.
"""

from __future__ import annotations

import _make_notebooks as mk

mk.NOTEBOOKS["current_fluctuations"] = [
    (
        "md",
        r"""
        # Current fluctuations: Fano factor and large deviations

        A steady state is characterised by its currents, and what distinguishes one NESS from
        another is how those currents **fluctuate**. Count the jumps of a chosen set with weights,
        $N_t = \sum_k w_k n_k(t)$; its scaled cumulant generating function
        $\theta(s) = \lim_{t\to\infty} t^{-1}\ln \mathbb{E}\, e^{s N_t} = \sum_n C_n s^n/n!$
        is the rightmost eigenvalue of the tilted generator
        $\mathcal{L}_s = \mathcal{L} + \sum_k (e^{s w_k} - 1)\,\mathcal{J}_k$,
        $\mathcal{J}_k\rho = L_k\rho L_k^\dagger$. $C_1$ is the current, $C_2$ the zero-frequency
        noise, $F = C_2/C_1$ the Fano factor.

        `qness.analysis.cumulants` computes $C_1 \dots C_n$ by the Rayleigh-Schroedinger
        recursion, one Drazin-inverse solve per order with the steady-state engine (sparse LU
        or GMRES in the symmetry sector); `qness.analysis.scgf` gives $\theta(s)$ on a grid and the
        rate function by Legendre transform.

        Two systems: the **open TASEP** (a classical exclusion process, a diagonal Lindblad model)
        and the **boundary-driven XXZ chain** (quantum). Set `CI=true` for a quick run.
        """,
    ),
    (
        "code",
        """
        %matplotlib inline
        import os

        import numpy as np
        from matplotlib.figure import Figure

        import qness
        from qness.analysis import cumulants, scgf

        CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
        tasep_sizes = range(2, 6) if CI else range(2, 9)
        xxz_sizes = range(2, 5) if CI else range(2, 7)
        """,
    ),
    (
        "md",
        r"""
        ## Open TASEP at $\alpha = \beta = 1/2$

        Particles enter at rate $\alpha$, hop right at rate 1 and leave at rate $\beta$; at
        $\alpha = \beta = 1/2$ the exact current is $1/4$ at every length (Derrida et al. 1993,
        `qness.models.tasep_current`). The noise is not: the Fano factor of the exit current
        falls with the length, close to $n^{-1/2}$ at this point of the maximal-current phase.
        """,
    ),
    (
        "code",
        """
        alpha = beta = 0.5
        tasep = {}
        for n in tasep_sizes:
            model = qness.models.tasep(n, alpha=alpha, beta=beta)
            c = cumulants(model, counted={f"out_{n - 1}": 1}, order=3)
            assert abs(c.current - qness.models.tasep_current(n, alpha=alpha, beta=beta)) < 1e-10
            tasep[n] = c
            print(f"n = {n}: current {c.current:.10f}, Fano {c.fano:.6f}, "
                  f"Fano * sqrt(n) {c.fano * np.sqrt(n):.4f}, C3/C1 {c.cumulants[2] / c.current:+.5f}")
        fano = np.array([tasep[n].fano for n in tasep_sizes])
        assert np.all(np.diff(fano) < 0)  # the exit current becomes more regular with length
        """,
    ),
    (
        "md",
        r"""
        ## Boundary-driven XXZ chain

        $H = \sum_i (\sigma^x_i\sigma^x_{i+1} + \sigma^y_i\sigma^y_{i+1} + \Delta\,\sigma^z_i\sigma^z_{i+1})$,
        spins injected on the left and removed on the right (driving $\mu = 1/2$). We count the
        net number of up spins leaving at the right end (`out` $+1$, `in` $-1$); its mean must
        equal the spin current through every bond, which `bond_currents` computes from the state
        alone.
        """,
    ),
    (
        "code",
        """
        xxz = {}
        for n in xxz_sizes:
            model = qness.models.boundary_driven_xxz(n, delta=0.5, mu=0.5)
            ness = qness.steady_state(model)
            c = cumulants(model, ness, counted={f"out_{n - 1}": 1, f"in_{n - 1}": -1}, order=2)
            bonds = qness.analysis.bond_currents(model, ness, "particle")
            assert np.allclose(bonds, c.current, rtol=0, atol=1e-10)
            xxz[n] = c
            print(f"n = {n}: current {c.current:.8f}, Fano {c.fano:.6f} ({c.info['route']} solves)")
        """,
    ),
    (
        "md",
        r"""
        ## Large deviations of the TASEP current

        $\theta(s)$ is convex, $\theta(0) = 0$, $\theta'(0) = C_1$; the rate function
        $I(j) = \max_s [s j - \theta(s)]$ gives $P(N_t/t \approx j) \asymp e^{-t I(j)}$ and vanishes
        at the mean current.
        """,
    ),
    (
        "code",
        """
        s = np.linspace(-1.5, 1.5, 13 if CI else 25)
        curves = {}
        for n in ((2, 4) if CI else (2, 4, 6)):
            model = qness.models.tasep(n, alpha=alpha, beta=beta)
            res = scgf(model, {f"out_{n - 1}": 1}, s)
            assert res.info["certified"].all() and abs(res.theta[s.size // 2]) < 1e-12
            assert np.all(np.diff(res.current) > 0)                       # convex
            assert abs(res.current[s.size // 2] - tasep[n].current) < 0.01  # theta'(0) = C1 (grid derivative)
            curves[n] = res

        fig = Figure(figsize=(11, 3.4), layout="constrained")
        ax1, ax2, ax3 = fig.subplots(1, 3)
        ns = np.array(list(tasep_sizes))
        ax1.plot(ns, fano, "o-", label="TASEP, exit current")
        ax1.plot(list(xxz_sizes), [xxz[n].fano for n in xxz_sizes], "s-", label=r"XXZ, $\\Delta = 0.5$")
        ax1.set(xlabel="length n", ylabel="Fano factor $C_2/C_1$", title="noise versus length")
        ax1.legend()
        for n, res in curves.items():
            ax2.plot(res.s, res.theta, label=f"n = {n}")
            ax3.plot(res.current, res.rate, label=f"n = {n}")
        ax2.set(xlabel="counting field s", ylabel=r"$\\theta(s)$", title="SCGF (TASEP)")
        ax3.set(xlabel="current j", ylabel="I(j)", title="rate function (TASEP)")
        ax2.legend()
        ax3.legend()
        fig
        """,
    ),
]

if __name__ == "__main__":
    print(mk.build("current_fluctuations"))
