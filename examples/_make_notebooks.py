"""Build the example notebooks in this folder (without outputs).

    python examples/_make_notebooks.py            # all notebooks
    python examples/_make_notebooks.py prosen_xxz # one

Each notebook is a list of ("md" | "code", source) cells below. The tests
(tests/test_notebooks.py) execute every ``examples/*.ipynb`` with nbclient;
keep each under 30 s. Code cells check the physics they show with
``assert``, so a notebook that runs is a notebook that is right.
"""

from __future__ import annotations

import os
import sys
import textwrap

import nbformat

HERE = os.path.dirname(os.path.abspath(__file__))


def _cells(spec, name):
    out = []
    for k, (kind, src) in enumerate(spec):
        src = textwrap.dedent(src).strip("\n")
        cell = nbformat.v4.new_markdown_cell(src) if kind == "md" else nbformat.v4.new_code_cell(src)
        cell.id = f"{name.replace('_', '-')}-{k}"  # stable ids: rebuilding gives no spurious diff
        out.append(cell)
    return out


NOTEBOOKS: dict[str, list] = {}

# --------------------------------------------------------------------------- Kerr gap closing
NOTEBOOKS["kerr_gap_closing"] = [
    (
        "md",
        r"""
        # The Kerr resonator: a closing Liouvillian gap

        $H = \Delta a^\dagger a + \frac{U}{2} a^{\dagger 2}a^2 + F(a + a^\dagger)$, $L = \sqrt{\kappa}\,a$.
        Its thermodynamic limit keeps $U N$ and $F/\sqrt{N}$ fixed: $U = U_1/N$,
        $F = F_1\sqrt{N}$, with photon numbers growing like $N$ (Casteels, Fazio, Ciuti, PRA 95,
        012128 (2017)). With $\Delta = -10\kappa$, $U_1 = 10\kappa$ mean-field theory is bistable
        for $0.5 < F_1/\kappa < 3.86$; the exact NESS is unique at every finite $N$, and the
        first-order transition shows up as a Liouvillian gap that closes **exponentially** in
        $N$ (Minganti, Biella, Bartolo, Ciuti, PRA 98, 042118 (2018)).
        """,
    ),
    (
        "code",
        """
        %matplotlib inline
        import numpy as np
        from matplotlib.figure import Figure

        import qness
        import qness.plot
        from qness.analysis import transitions as tr
        from qness.scan import scan

        # kerr_scaled is a module-level function: the scan can use worker processes
        ds = scan(
            tr.kerr_scaled,
            {"F1": np.linspace(1.5, 3.5, 11)},
            ["gap", "expect:num"],
            sizes=[1, 2, 3, 4, 5],
            size_name="N",
            workers=2,
            progress=False,
        )
        assert (ds["error"] == "").all(), set(ds["error"].values.ravel())
        ax = qness.plot.gap_curves(ds["gap"])
        ax.figure
        """,
    ),
    (
        "md",
        "Where the gap is smallest at each $N$, and how the minimum closes with $N$:",
    ),
    (
        "code",
        """
        tt = tr.transition_from_gap(ds["gap"])
        for N, x, gmin in zip(tt["sizes"], tt["x_min"], tt["gap_min"]):
            print(f"N = {N}: smallest gap {gmin:.3e} at F1 = {x:.3f}")
        fit = tt["scaling"]
        print(f"exponential: xi = {fit.exponential.exponent:.3f} ± {fit.exponential.exponent_err:.3f} "
              f"(rss {fit.exponential.rss:.2e});  power law: z = {fit.power.exponent:.2f} ± "
              f"{fit.power.exponent_err:.2f} (rss {fit.power.rss:.2e})")
        assert fit.best.law == "exponential"
        ax = qness.plot.gap_curves({"min": tt["gap_min"]}, "N", x=tt["sizes"], size_name="gap")
        ax.plot(tt["sizes"], fit.exponential.predict(tt["sizes"]), "k--", label="a exp(-N/ξ)")
        ax.legend()
        ax.figure
        """,
    ),
    (
        "md",
        r"""
        ## Two metastable states

        Near the transition $\lambda_1$ is real and far below $\lambda_2$; the slowest
        eigenmatrix $\rho_1$ is Hermitian and $\rho_\pm = \rho_{ss} + c_\pm\rho_1$ (extremal
        positive) are the dim and bright metastable states.
        """,
    ),
    (
        "code",
        """
        N, F1 = 5, float(tt["x_min"][-1])
        model = tr.kerr_scaled(N, F1=F1)
        spec = qness.spectrum(model, k=8)
        meta = tr.metastable_states(model, spectrum=spec)
        n_pm = [tr.photon_number(meta.rho_plus), tr.photon_number(meta.rho_minus)]
        print(f"λ1 = {meta.lambda1:.2e}, λ2 = {meta.lambda2:.3f}, separation {meta.separation:.0f}")
        print(f"photon numbers {n_pm[0]:.2f} and {n_pm[1]:.2f}, weights {np.round(meta.weights, 3)}")
        print(f"g2(0): {tr.g2(meta.rho_plus):.3f}, {tr.g2(meta.rho_minus):.3f}")
        assert meta.bistable and abs(n_pm[0] - n_pm[1]) > 2
        fig = Figure(figsize=(11, 3.4), layout="constrained")
        axes = fig.subplots(1, 3)
        qness.plot.spectrum(spec, ax=axes[0])
        x = np.linspace(-5, 5, 101)
        dim, bright = sorted([meta.rho_plus, meta.rho_minus], key=tr.photon_number)
        qness.plot.wigner(dim, x, ax=axes[1]).set_title("dim metastable state")
        qness.plot.wigner(bright, x, ax=axes[2]).set_title("bright metastable state")
        fig
        """,
    ),
]

# --------------------------------------------------------------------------- Prosen XXZ
NOTEBOOKS["prosen_xxz"] = [
    (
        "md",
        r"""
        # Prosen's boundary-driven XXZ chain

        A chain of $n$ spins-1/2 with $H = J\sum_i (\sigma^x_i\sigma^x_{i+1}
        + \sigma^y_i\sigma^y_{i+1} + \Delta\,\sigma^z_i\sigma^z_{i+1})$,
        up spins injected at the left end ($L_1 = \sqrt{\gamma}\,\sigma^+_0$) and removed at the
        right end ($L_2 = \sqrt{\gamma}\,\sigma^-_{n-1}$): maximal driving, whose NESS Prosen
        found exactly (PRL 107, 137201 (2011)). The spin current is ballistic (independent
        of $n$) for $|\Delta| < 1$ and decays exponentially with $n$ for $|\Delta| > 1$.
        """,
    ),
    (
        "code",
        """
        %matplotlib inline
        import numpy as np

        import qness
        import qness.plot
        from qness.analysis import transitions
        from qness.models import boundary_driven_xxz
        from qness.operators import chain_operator
        from qness.scan import scan

        model = boundary_driven_xxz(6, delta=0.5, gamma=1.0, mu=1.0)
        ness = qness.steady_state(model)
        print(model)
        print(f"residual {ness.residual:.2e}, method {ness.info['method']}, {ness.info['time']:.3f} s")
        """,
    ),
    (
        "md",
        r"""
        The up-spin current across bond $(i, i+1)$ follows from
        $\dot n_{i+1} = i[H, n_{i+1}] + \dots$ with $n = (1 + \sigma^z)/2$:
        $j_i = J\langle \sigma^x_i\sigma^y_{i+1} - \sigma^y_i\sigma^x_{i+1}\rangle$.
        In the NESS it is the same on every bond and equals the injection rate
        $\gamma(1 - \langle n_0\rangle)$.
        """,
    ),
    (
        "code",
        """
        def spin_current(model, ness, bond=0):
            i, dims = bond, model.dims
            A = chain_operator({i: "sigmax", i + 1: "sigmay"}, dims)
            A = A - chain_operator({i: "sigmay", i + 1: "sigmax"}, dims)
            return model.params["J"] * np.real(np.trace(A @ ness.rho))


        def magnetisation(model, ness):
            ops = [chain_operator({i: "sigmaz"}, model.dims) for i in range(len(model.dims))]
            return np.array([np.real(np.trace(z @ ness.rho)) for z in ops])


        currents = [spin_current(model, ness, b) for b in range(5)]
        n0 = (1 + magnetisation(model, ness)[0]) / 2
        print("bond currents", np.round(currents, 12))
        assert np.allclose(currents, currents[0], atol=1e-10)        # continuity
        assert np.isclose(currents[0], 1.0 * (1 - n0), atol=1e-10)   # = injection at the left end
        qness.plot.current_profile(currents).figure
        """,
    ),
    (
        "md",
        "Magnetisation profiles: flat in the bulk for the XX chain, kink-like deep in the insulating regime.",
    ),
    (
        "code",
        """
        ax = None
        for delta in (0.0, 0.5, 1.0, 1.5):
            m = boundary_driven_xxz(6, delta=delta)
            mz = magnetisation(m, qness.steady_state(m))
            ax = qness.plot.magnetisation_profile(mz, ax=ax, label=f"Δ = {delta}")
        ax.figure
        """,
    ),
    (
        "md",
        r"""
        ## Current versus length

        A scan over $\Delta$ and the size $n$ (serial here, because `spin_current` is defined
        in this notebook; with a function from a module, `executor=None` uses every core).
        """,
    ),
    (
        "code",
        """
        import functools

        ds = scan(
            functools.partial(boundary_driven_xxz, gamma=1.0, mu=1.0),
            {"delta": [0.0, 0.5, 1.0, 1.5]},
            {"current": spin_current},
            sizes=[3, 4, 5, 6],
            executor="serial",
            progress=False,
        )
        assert (ds["error"] == "").all(), set(ds["error"].values.ravel())
        j = ds["current"]
        print(j.round(5).values)
        # XX chain: ballistic, the current does not depend on n
        assert np.ptp(j.sel(delta=0.0).values) < 1e-10
        qness.plot.gap_curves(j.transpose("delta", "n"), "n", size_name="delta", ylabel="spin current").figure
        """,
    ),
    (
        "code",
        """
        fit = transitions.finite_size_scaling(j["n"].values, j.sel(delta=1.5).values)
        print(f"Δ = 1.5: best law {fit.best.law}, localisation length ξ = "
              f"{fit.exponential.exponent:.3f} ± {fit.exponential.exponent_err:.3f}")
        assert fit.best.law == "exponential"
        """,
    ),
]

# --------------------------------------------------------------------------- detailed balance
NOTEBOOKS["detailed_balance"] = [
    (
        "md",
        r"""
        # Broken detailed balance: the three-state cycle and the TASEP

        A classical Markov jump process with rates $w_{i\to j}$ is a Lindblad model with jumps
        $L_{ij} = \sqrt{w_{ij}}\,|j\rangle\langle i|$ and $H = 0$; its NESS is diagonal,
        $\rho = \mathrm{diag}(p^*)$. Detailed balance, $p_i w_{i\to j} = p_j w_{j\to i}$, holds
        if and only if every cycle affinity vanishes (Kolmogorov's criterion); otherwise a
        current circulates and entropy is produced (Schnakenberg, RMP 48, 571 (1976)).
        """,
    ),
    (
        "code",
        """
        %matplotlib inline
        import functools

        import numpy as np
        import scipy.sparse.linalg as spla

        import qness
        import qness.plot
        from qness.models import tasep, tasep_current, tasep_generator, three_state_cycle
        from qness.scan import scan

        rates = dict(k_ab=2.0, k_bc=1.0, k_ca=1.5, k_ba=0.5, k_cb=0.5, k_ac=0.5)
        model = three_state_cycle(**rates)
        rho = qness.steady_state(model).rho
        p = np.real(np.diag(rho))
        assert np.allclose(rho, np.diag(p), atol=1e-12)  # no coherences

        # Kirchhoff / Hill: p_A ∝ sum over spanning trees directed into A
        r = rates
        tree = np.array([
            r["k_bc"] * r["k_ca"] + r["k_ba"] * r["k_ca"] + r["k_cb"] * r["k_ba"],
            r["k_ca"] * r["k_ab"] + r["k_cb"] * r["k_ab"] + r["k_ac"] * r["k_cb"],
            r["k_ab"] * r["k_bc"] + r["k_ac"] * r["k_bc"] + r["k_ba"] * r["k_ac"],
        ])
        assert np.allclose(p, tree / tree.sum(), atol=1e-12)
        print("p* =", p.round(6))
        """,
    ),
    (
        "code",
        """
        def cycle_current(model, ness):
            r, p = model.params, np.real(np.diag(ness.rho))
            return p[0] * r["k_ab"] - p[1] * r["k_ba"]


        def affinity(r):
            return np.log(r["k_ab"] * r["k_bc"] * r["k_ca"] / (r["k_ba"] * r["k_cb"] * r["k_ac"]))


        def entropy_production(model, ness):
            # Schnakenberg: sum over edges of J_e ln(p_i w_ij / (p_j w_ji)), >= 0
            r, p = model.params, np.real(np.diag(ness.rho))
            edges = [(0, 1, "k_ab", "k_ba"), (1, 2, "k_bc", "k_cb"), (2, 0, "k_ca", "k_ac")]
            return sum(
                (p[i] * r[f] - p[j] * r[b]) * np.log(p[i] * r[f] / (p[j] * r[b])) for i, j, f, b in edges
            )


        ness = qness.steady_state(model)
        J = cycle_current(model, ness)
        print(f"J = {J:.6f}, affinity A = {affinity(rates):.4f}, σ = {entropy_production(model, ness):.6f}")
        # one cycle: sigma = J * A
        assert np.isclose(entropy_production(model, ness), J * affinity(rates))
        """,
    ),
    (
        "md",
        r"""
        The same with `qness.analysis.balance`, which works on the rate matrix
        $K_{ij} = w_{i\to j}$ of any network (cycle basis, affinities, Kolmogorov's criterion),
        and its quantum test of detailed balance on the Lindblad NESS:
        """,
    ),
    (
        "code",
        """
        from qness.analysis import balance


        def rate_matrix(r):
            return np.array([[0, r["k_ab"], r["k_ac"]], [r["k_ba"], 0, r["k_bc"]], [r["k_ca"], r["k_cb"], 0]])


        K = rate_matrix(rates)
        assert np.allclose(balance.stationary_distribution(K), p)
        assert np.isclose(balance.schnakenberg_entropy_production(K, p), entropy_production(model, ness))
        assert np.allclose(balance.cycle_affinities(K), [affinity(rates)])
        assert not balance.kolmogorov_criterion(K) and not balance.quantum_detailed_balance(model, ness)
        at_db = dict(rates, k_ab=1 / 12)
        m_db = three_state_cycle(**at_db)
        assert balance.kolmogorov_criterion(rate_matrix(at_db))
        assert balance.quantum_detailed_balance(m_db, qness.steady_state(m_db))
        print("affinity", balance.cycle_affinities(K), "detailed balance:", balance.kolmogorov_criterion(K))
        """,
    ),
    (
        "md",
        r"""
        Vary the rate $k_{AB}$: the current changes sign where the affinity does, and the
        entropy production $\sigma = J\mathcal{A} \ge 0$ vanishes only at detailed balance
        ($k_{AB} = k_{BA}k_{CB}k_{AC}/(k_{BC}k_{CA}) = 1/12$ here).
        """,
    ),
    (
        "code",
        """
        fixed = {k: v for k, v in rates.items() if k != "k_ab"}
        grid = np.geomspace(1 / 48, 4 / 3, 13)  # contains 1/12
        ds = scan(
            functools.partial(three_state_cycle, **fixed),
            {"k_ab": grid},
            {"J": cycle_current, "sigma": entropy_production},
            executor="serial",
            progress=False,
        )
        A = np.array([affinity({**fixed, "k_ab": k}) for k in grid])
        assert np.all(np.sign(ds["J"].values.round(12)) == np.sign(A.round(12)))
        assert np.all(ds["sigma"].values >= -1e-14)
        at_db = np.argmin(np.abs(A))
        assert abs(A[at_db]) < 1e-12 and abs(ds["J"].values[at_db]) < 1e-12
        ax = qness.plot.profile(ds["J"].values, ylabel="cycle current J", label="J")
        ax.set_xticks(range(len(grid)), [f"{a:.1f}" for a in A], rotation=60)
        ax.set_xlabel("affinity A")
        ax.figure
        """,
    ),
    (
        "md",
        r"""
        ## The open TASEP

        Particles enter at rate $\alpha$, hop only to the right, leave at rate $\beta$: every
        jump is irreversible, so detailed balance is maximally broken. The exact current is
        known (Derrida, Evans, Hakim, Pasquier, J. Phys. A 26, 1493 (1993)). First, the
        Lindblad model on $n$ qubits against the exact result:
        """,
    ),
    (
        "code",
        """
        for n in (3, 4, 5):
            m = tasep(n, alpha=0.3, beta=0.6)
            rho = qness.steady_state(m).rho
            occ_last = np.real(np.trace(qness.operators.embed("sigmaz", n - 1, m.dims) @ rho) + 1) / 2
            J = 0.6 * occ_last  # exit current
            print(n, J, tasep_current(n, alpha=0.3, beta=0.6))
            assert np.isclose(J, tasep_current(n, alpha=0.3, beta=0.6), rtol=1e-8)
        """,
    ),
    (
        "md",
        r"""
        Longer chains through the classical generator ($2^n$ configurations instead of $4^n$):
        current versus $\alpha$ at $\beta = 0.7$, approaching the phase diagram
        $J = \alpha(1-\alpha)$ (low density, $\alpha < 1/2$) and $J = 1/4$ (maximal current).
        """,
    ),
    (
        "code",
        """
        def classical_nss(W):
            vals, vecs = spla.eigs(W.tocsc(), k=1, sigma=0)
            p = np.real(vecs[:, 0])
            return p / p.sum()


        alphas = np.linspace(0.1, 0.9, 9)
        curves = {}
        for n in (4, 8, 10):
            Js = []
            for a in alphas:
                p = classical_nss(tasep_generator(n, alpha=a, beta=0.7))
                occupied_last = np.array([(s & 1) == 0 for s in range(2**n)])  # bit 0 = occupied
                Js.append(0.7 * p[occupied_last].sum())
            curves[n] = np.array(Js)
            exact = [tasep_current(n, alpha=a, beta=0.7) for a in alphas]
            assert np.allclose(curves[n], exact, rtol=1e-7)
        ax = qness.plot.gap_curves(curves, "alpha", x=alphas, size_name="n", log=False, ylabel="current J")
        ax.plot(alphas, np.where(alphas < 0.5, alphas * (1 - alphas), 0.25), "k--", label="n → ∞")
        ax.legend()
        ax.figure
        """,
    ),
]


# --------------------------------------------------------------------------- quantum wire
NOTEBOOKS["quantum_wire"] = [
    (
        "md",
        r"""
        # A quantum wire between two temperatures

        An XX chain of $n$ spins (free fermions after Jordan-Wigner),
        $H = J\sum_i(\sigma^x_i\sigma^x_{i+1} + \sigma^y_i\sigma^y_{i+1}) + \frac{h}{2}\sum_i\sigma^z_i$,
        with its left end in contact with a hot reservoir ($T_L$) and its right end with a cold
        one ($T_R$). Two master equations: **local** (each bath relaxes its own end spin at
        frequency $h$) and **global** (Davies, in the eigenbasis of the whole chain; Landi et
        al., RMP 94, 045006 (2022)). Currents are positive when they flow from the bath into
        the chain.
        """,
    ),
    (
        "code",
        """
        %matplotlib inline
        import functools
        import warnings

        import numpy as np

        import qness
        import qness.plot
        from qness.analysis import bond_currents, entanglement, entropy_production, heat_currents
        from qness.models import xxz_thermal_chain
        from qness.scan import scan

        T_L, T_R = 2.0, 0.5
        model = xxz_thermal_chain(4, T_l=T_L, T_r=T_R, form="local")
        ness = qness.steady_state(model)
        J = heat_currents(model, ness)
        sigma = entropy_production(model, ness)
        print(f"J_left = {J['left']:.6f}, J_right = {J['right']:.6f}, entropy production {sigma:.6f}")
        assert np.isclose(J["left"] + J["right"], 0, atol=1e-12)          # first law (no drive)
        assert np.isclose(sigma, -(J["left"] / T_L + J["right"] / T_R))    # second law bookkeeping
        assert J["left"] > 0 and sigma > 0                                 # heat flows hot -> cold
        """,
    ),
    (
        "md",
        "In the local description the energy current is the same across every bond of the wire:",
    ),
    (
        "code",
        """
        jb = bond_currents(model, ness, "energy")
        assert np.allclose(jb, J["left"], rtol=1e-8)
        qness.plot.current_profile(jb, label="energy current").figure
        """,
    ),
    (
        "md",
        r"""
        ## Ballistic transport and local versus global

        The XX chain conducts ballistically: with local baths the current does not depend on
        the length. The global master equation gives a different current that does. The
        built-in scan quantity `"current:left"` is the heat current from the left bath.
        """,
    ),
    (
        "code",
        """
        ds = scan(
            functools.partial(xxz_thermal_chain, T_l=T_L, T_r=T_R),
            {"form": ["local", "global"]},
            ["current:left"],
            sizes=[2, 3, 4, 5],
            executor="serial",
            progress=False,
        )
        assert (ds["error"] == "").all(), set(ds["error"].values.ravel())
        J_n = ds["current:left"]
        print(J_n.values.round(6))
        assert np.ptp(J_n.sel(form="local").values) < 1e-10
        ax = qness.plot.gap_curves(J_n.transpose("form", "n"), "n", size_name="form", log=False)
        ax.set_ylabel("heat current")
        ax.figure
        """,
    ),
    (
        "md",
        r"""
        Heat current versus the temperature of the left bath (right bath at $T_R$): zero at
        $T_L = T_R$, and the entropy production is never negative.
        """,
    ),
    (
        "code",
        """
        def sigma(model, ness):
            return entropy_production(model, ness)


        TL = np.linspace(0.25, 3.0, 12)
        ds = scan(
            functools.partial(xxz_thermal_chain, 4, T_r=T_R),
            {"form": ["local", "global"], "T_l": TL},
            {"J": "current:left", "sigma": sigma},
            executor="serial",
            progress=False,
        )
        assert (ds["error"] == "").all(), set(ds["error"].values.ravel())
        assert np.all(np.sign(ds["J"].values.round(12)) == np.sign(TL - T_R)[None, :])
        assert np.all(ds["sigma"].values >= -1e-12)
        qness.plot.gap_curves(ds["J"], "T_l", size_name="form", log=False, ylabel="heat current").figure
        """,
    ),
    (
        "md",
        "Correlations in the NESS: mutual information across each cut of the chain (bits).",
    ),
    (
        "code",
        """
        prof = entanglement.entanglement_profile(ness.rho, model.dims)
        print("mutual information per cut:", np.round(prof.mutual_information, 6))
        assert np.all(prof.mutual_information >= -1e-12)
        qness.plot.entanglement_profile(prof.mutual_information, cuts=prof.cut).figure
        """,
    ),
]

# --------------------------------------------------------------------------- local vs global machine
NOTEBOOKS["local_vs_global"] = [
    (
        "md",
        r"""
        # Local versus global master equations for a two-qubit heat machine

        Two resonant qubits ($\omega_h = \omega_c = \omega$) coupled by
        $g(\sigma^+_h\sigma^-_c + \mathrm{h.c.})$, each attached to its own bath (hot $T_h$,
        cold $T_c$, rates $\gamma$). The **local** master equation lets each bath act on its
        own qubit as if the coupling were absent; the **global** one (secular, Davies) acts
        on the eigenmodes of the coupled system. Hofer et al., NJP 19, 123037 (2017): the
        local form is right for $g \ll \omega$, the global one needs the eigenmode splitting
        $2g$ to be large compared with $\gamma$. At $g \to 0$ the global form still carries a
        finite heat current between two uncoupled qubits — unphysical.
        """,
    ),
    (
        "code",
        """
        %matplotlib inline
        import functools

        import numpy as np

        import qness
        import qness.plot
        from qness.analysis import entropy_production, heat_currents
        from qness.models import two_node
        from qness.scan import scan

        params = dict(kind="qubit", omega_h=1.0, omega_c=1.0, gamma_h=0.02, gamma_c=0.02, T_h=2.0, T_c=0.5)


        def sigma(model, ness):
            return entropy_production(model, ness)


        g = np.geomspace(1e-3, 0.5, 12)
        ds = scan(
            functools.partial(two_node, **params),
            {"form": ["local", "global"], "g": g},
            {"J_hot": "current:hot", "J_cold": "current:cold", "sigma": sigma},
            executor="serial",
            progress=False,
        )
        assert (ds["error"] == "").all(), set(ds["error"].values.ravel())
        assert np.allclose(ds["J_hot"], -ds["J_cold"], atol=1e-12)   # no drive: what enters leaves
        assert np.all(ds["sigma"].values >= -1e-12)                   # both respect the second law here
        ax = qness.plot.gap_curves(ds["J_hot"], "g", size_name="form", ylabel="heat current (hot bath)")
        ax.set_xscale("log")
        ax.axvline(params["gamma_h"], color="0.6", ls=":")
        ax.figure
        """,
    ),
    (
        "code",
        """
        local = ds["J_hot"].sel(form="local").values
        glob = ds["J_hot"].sel(form="global").values
        slope = np.polyfit(np.log(g[:3]), np.log(local[:3]), 1)[0]
        print(f"local: J ~ g^{slope:.2f} at small g; global varies by {np.ptp(glob[:4]) / glob[0]:.1e} "
              f"over g = {g[0]:.0e}..{g[3]:.0e}")
        assert abs(slope - 2) < 0.05                  # local: transport needs the coupling, J ∝ g^2
        assert np.ptp(glob[:4]) / glob[0] < 1e-3      # global: the same current at any small g
        middle = np.argmin(np.abs(g - 0.2))
        print(f"at g = {g[middle]:.2f}: local {local[middle]:.5f}, global {glob[middle]:.5f}")
        assert abs(local[middle] - glob[middle]) < 0.02 * glob[middle]  # they agree for gamma << g << omega
        """,
    ),
]


# --------------------------------------------------------------------------- Floquet heat engine
NOTEBOOKS["floquet_heat_engine"] = [
    (
        "md",
        r"""
        # A periodically driven quantum heat engine, beyond the rotating-wave approximation

        Two qubits at different frequencies $\omega_h > \omega_c$, each with its own bath (hot
        $T_h$, cold $T_c$), are coupled only by a drive that modulates their exchange,

        $$H(t) = \tfrac{\omega_h}{2}\sigma^z_h + \tfrac{\omega_c}{2}\sigma^z_c
          + g\cos(\omega t)\,(\sigma^+_h\sigma^-_c + \sigma^-_h\sigma^+_c).$$

        At resonance, $\omega = \omega_h - \omega_c$, each swap takes a quantum $\omega_h$ from the
        hot bath, gives $\omega_c$ to the cold one and the difference to the drive: an engine with
        the Otto efficiency $1 - \omega_c/\omega_h$ whenever $\omega_h/T_h < \omega_c/T_c$. The
        $\cos$ keeps the counter-rotating half of the drive (the RWA drops it). The limit cycle
        $\rho(t + T) = \rho(t)$ comes from `qness.floquet_steady_state`, its period-averaged heat
        currents and power from `energy_balance()`, which also judges whether the local baths
        used here are still a valid description (Hofer et al., NJP 19, 123037 (2017)).
        """,
    ),
    (
        "code",
        """
        %matplotlib inline
        import os
        import warnings

        import matplotlib.pyplot as plt
        import numpy as np
        import qutip

        import qness

        CI = os.environ.get("CI", "").lower() == "true"
        wh, wc, Th, Tc, gamma = 3.0, 1.0, 5.0, 0.5, 0.01


        def nth(w, T):
            return 1.0 / np.expm1(w / T)


        sm, sz, I2 = qutip.sigmam(), qutip.sigmaz(), qutip.qeye(2)
        smh, smc = qutip.tensor(sm, I2), qutip.tensor(I2, sm)
        H0 = 0.5 * wh * qutip.tensor(sz, I2) + 0.5 * wc * qutip.tensor(I2, sz)
        model = qness.from_qutip(
            H0,
            [smh, smh.dag(), smc, smc.dag()],
            rates=[gamma * (nth(wh, Th) + 1), gamma * nth(wh, Th), gamma * (nth(wc, Tc) + 1),
                   gamma * nth(wc, Tc)],
            bath_labels=["hot", "hot", "cold", "cold"],
            baths={"hot": Th, "cold": Tc},
        )
        swap = smh.dag() * smc  # moves an excitation from the cold qubit to the hot one
        X = swap + swap.dag()


        def balance(g, w, rwa=False):
            # RWA: only the resonant half, H_1 e^{-i w t} + h.c. with H_1 = (g/2) swap
            drive = {1: 0.5 * g * swap} if rwa else g * X
            cycle = qness.floquet_steady_state(model, drive, w)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", qness.LocalMasterEquationWarning)
                return cycle, cycle.energy_balance()
        """,
    ),
    (
        "code",
        """
        g = 0.02
        ws = np.linspace(1.85, 2.15, 25 if CI else 41)
        out = {rwa: [balance(g, w, rwa)[1] for w in ws] for rwa in (False, True)}
        P = {r: np.array([e["power"] for e in out[r]]) for r in out}
        Jh = {r: np.array([e["heat"]["hot"] for e in out[r]]) for r in out}
        Jc = {r: np.array([e["heat"]["cold"] for e in out[r]]) for r in out}
        assert max(abs(e["first_law"]) for r in out for e in out[r]) < 1e-13   # J_h + J_c + P = 0
        assert all(e["local_me"]["valid"] for e in out[False])                # weak drive: local baths fine

        fig, ax = plt.subplots(figsize=(6, 3.5))
        for r, ls in ((False, "-"), (True, "--")):
            tag = "RWA" if r else "full drive"
            ax.plot(ws, P[r], "k" + ls, label=f"power P ({tag})")
            ax.plot(ws, Jh[r], "r" + ls, label=f"heat from hot ({tag})")
            ax.plot(ws, Jc[r], "b" + ls, label=f"heat from cold ({tag})")
        ax.axvline(wh - wc, color="0.6", ls=":")
        ax.set_xlabel("drive frequency ω")
        ax.set_ylabel("period-averaged rate")
        ax.legend(fontsize=7)
        fig.tight_layout()
        """,
    ),
    (
        "code",
        """
        cycle, eb = balance(g, wh - wc)
        eta = -eb["power"] / eb["heat"]["hot"]
        print(f"at resonance: P = {eb['power']:.3e} (work out), J_h = {eb['heat']['hot']:.3e}, "
              f"efficiency {eta:.5f}; Otto {1 - wc / wh:.5f}, Carnot {1 - Tc / Th:.5f}")
        assert eb["power"] < 0 and eb["heat"]["hot"] > 0 > eb["heat"]["cold"]   # an engine
        assert abs(eta - (1 - wc / wh)) < 1e-3 and eta < 1 - Tc / Th
        # beyond RWA: the counter-rotating half shifts the power by a small, non-zero amount
        k = np.argmin(abs(ws - (wh - wc)))
        shift = abs(P[False][k] - P[True][k]) / abs(P[True][k])
        print(f"relative effect of the counter-rotating drive on P at resonance: {shift:.1e}")
        assert 1e-6 < shift < 1e-2
        """,
    ),
    (
        "md",
        r"""
        ## A stronger drive: the local master equation leaves its validity

        The jumps $\sigma^\pm_h$, $\sigma^\pm_c$ are those of the *undriven* qubits. A strong drive
        dresses the transitions: the bath then sees each jump at a spread of frequencies
        (Floquet sidebands) around its own. `energy_balance` measures the spread $\Delta_A$ of
        every jump in the limit cycle against the bath's resolution $\min(|\omega_A|, T_b)$ and
        warns above 0.1 (criterion in the guide, *Periodic drives*).
        """,
    ),
    (
        "code",
        """
        strong = qness.floquet_steady_state(model, 0.3 * X, wh - wc)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            eb_strong = strong.energy_balance()
        assert any(issubclass(w.category, qness.LocalMasterEquationWarning) for w in caught)
        for jump in eb_strong["local_me"]["jumps"]:
            print(f"{jump['label']:>9} ({jump['bath']}): frequency {jump['frequency']:+.3f}, "
                  f"spread {jump['spread']:.3f}, ratio {jump['ratio']:.2f}")
        print("weak drive, worst ratio:", round(eb["local_me"]["worst"], 3))
        assert eb_strong["local_me"]["worst"] > 0.1 > eb["local_me"]["worst"]
        """,
    ),
    (
        "md",
        r"""
        ## The Floquet gap: how fast the engine settles into its cycle

        `qness.floquet_spectrum` diagonalises the one-period propagator; its slowest decay rate
        (the Floquet gap) is the rate at which a generic initial state approaches the limit
        cycle. Integrating from a random density matrix with `qutip.mesolve` and sampling every
        fourth period shows that rate. (The drive conserves the number of excitations: a
        diagonal initial state would only see the slower-decaying populations' sector, not the
        coherences that carry the gap.)
        """,
    ),
    (
        "code",
        """
        w = wh - wc
        spec = qness.floquet_spectrum(model, g * X, w)
        print(spec, "; first exponents:", np.round(spec.exponents[:3], 5))
        T = 2 * np.pi / w
        periods = np.arange(0, 400, 4)
        rho0 = qutip.Qobj(qutip.rand_dm(4, seed=7).full(), dims=H0.dims)
        c_ops = [np.sqrt(j.rate) * qutip.Qobj(j.op.toarray(), dims=H0.dims) for j in model.jumps]
        ev = qutip.mesolve([H0, [g * X, "cos(w*t)"]], rho0, periods * T, c_ops, args={"w": w},
                           options={"atol": 1e-12, "rtol": 1e-10})
        dist = [np.linalg.norm(s.full() - cycle.rho(0.0)) for s in ev.states]
        fig, ax = plt.subplots(figsize=(5, 3))
        ax.semilogy(periods * T, dist, "o", ms=3, label="mesolve, every 4th period")
        ax.semilogy(periods * T, dist[60] * np.exp(-spec.gap * (periods - periods[60]) * T), "k--",
                    label="exp(-gap t)")
        ax.set_xlabel("t")
        ax.set_ylabel("distance to the limit cycle")
        ax.legend()
        fig.tight_layout()
        rate = -np.polyfit(periods[60:] * T, np.log(dist[60:]), 1)[0]  # after the faster modes died
        print(f"decay rate seen by mesolve {rate:.5f}, Floquet gap {spec.gap:.5f}")
        assert abs(rate - spec.gap) < 0.03 * spec.gap
        """,
    ),
]


def build(name: str) -> str:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = _cells(NOTEBOOKS[name], name)
    path = os.path.join(HERE, f"{name}.ipynb")
    nbformat.validate(nb)
    with open(path, "w") as fh:
        nbformat.write(nb, fh)
    return path


if __name__ == "__main__":
    names = sys.argv[1:] or list(NOTEBOOKS)
    for n in names:
        if n not in NOTEBOOKS:
            sys.exit(f"unknown notebook {n!r}; known: {', '.join(NOTEBOOKS)}")
        print(build(n))
