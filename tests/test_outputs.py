"""What comes out for multi-site states: expect dims, bosonic-mode observables, truncation
(issue 13, "Outputs")."""

import math

import numpy as np
import pytest
import qutip

import qness
from qness.analysis import g2, photon_number, wigner


def jaynes_cummings(N=10, wc=1.0, wa=1.0, g=0.3, F=0.25, kappa=0.5, gamma=0.1):
    """Driven JC model, cavity (site 0, N levels) x qubit (site 1), in the drive's frame."""
    a = qutip.tensor(qutip.destroy(N), qutip.qeye(2))
    sm = qutip.tensor(qutip.qeye(N), qutip.sigmam())
    H = (wc - 1.0) * a.dag() * a + 0.5 * (wa - 1.0) * (2 * sm.dag() * sm) + g * (a.dag() * sm + a * sm.dag())
    H += F * (a + a.dag())
    return H, [math.sqrt(kappa) * a, math.sqrt(gamma) * sm], a


def test_jaynes_cummings_photon_number_is_the_cavity_mode():
    H, c_ops, a = jaynes_cummings()
    ness = qness.steady_state((H, c_ops))
    rho = ness.to_qobj()
    assert ness.dims == (10, 2) and rho.dims == [[10, 2], [10, 2]]
    n_ref = qutip.expect(a.dag() * a, rho)
    g2_ref = qutip.expect(a.dag() * a.dag() * a * a, rho) / n_ref**2
    assert photon_number(ness, mode=0) == pytest.approx(n_ref, rel=1e-10)
    assert g2(ness, mode=0) == pytest.approx(g2_ref, rel=1e-10)
    # the bug: the whole 20-dimensional state read as one mode gives another number
    flat = float(np.real(np.sum(np.arange(20) * np.diag(ness.rho))))
    assert abs(flat - n_ref) > 0.1
    with pytest.raises(ValueError, match=r"2 sites \(dims \(10, 2\)\); give mode="):
        photon_number(ness)
    # a Qobj carries its dims too
    assert photon_number(rho, mode=0) == pytest.approx(n_ref, rel=1e-10)
    # the cavity's Wigner function integrates to 1 and equals QuTiP's of the reduced state
    x = np.linspace(-4, 4, 81)
    W = wigner(ness, x, mode=0)
    assert np.allclose(W, qutip.wigner(rho.ptrace(0), x, x), atol=1e-12)
    assert np.sum(W) * (x[1] - x[0]) ** 2 == pytest.approx(1.0, abs=1e-4)


def test_declared_non_bosonic_sites_are_refused():
    H, c_ops, a = jaynes_cummings(N=6)
    model = qness.from_qutip(H, c_ops, site_kinds=("boson", "spin"))
    ness = qness.steady_state(model)
    assert ness.site_kinds == ("boson", "spin")
    with pytest.raises(ValueError, match=r"site 1 is a spin"):
        photon_number(ness, mode=1)
    with pytest.raises(ValueError, match=r"bosonic sites: \[0\]"):
        g2(ness)
    # a 3-spin chain is not drawn as a Wigner function
    chain = qness.steady_state(
        qness.models.boundary_driven_xxz(3, delta=0.5, gamma=0.8, mu=0.6, dephasing=0.0)
    )
    with pytest.raises(ValueError, match="3 sites"):
        wigner(chain, np.linspace(-2, 2, 5))
    with pytest.raises(ValueError, match="site 0 is a spin"):
        wigner(chain, np.linspace(-2, 2, 5), mode=0)
    with pytest.raises(ValueError, match="3 sites"):
        qness.plot.wigner(chain)


def test_plot_wigner_of_the_cavity_of_a_two_site_state():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    H, c_ops, _ = jaynes_cummings(N=6)
    ness = qness.steady_state((H, c_ops))
    ax = qness.plot.wigner(ness, np.linspace(-3, 3, 31), mode=0)
    mesh = ax.collections[0].get_array()
    ref = qutip.wigner(ness.to_qobj().ptrace(0), np.linspace(-3, 3, 31), np.linspace(-3, 3, 31))
    assert np.allclose(np.asarray(mesh).reshape(ref.shape), ref, atol=1e-12)
    plt.close(ax.figure)


def test_expect_checks_the_tensor_order_like_qutip():
    # cavity (3) x qubit: an operator with the factors swapped has the same shape
    a = qutip.tensor(qutip.destroy(3), qutip.qeye(2))
    sm = qutip.tensor(qutip.qeye(3), qutip.sigmam())
    H = 0.4 * (a + a.dag()) + 0.2 * (a.dag() * sm + a * sm.dag())
    ness = qness.steady_state((H, [a, 0.5 * sm]))
    wrong = qutip.tensor(qutip.qeye(2), qutip.num(3))
    with pytest.raises(ValueError, match="incompatible dimensions"):
        qutip.expect(wrong, ness.to_qobj())  # QuTiP refuses it too
    with pytest.raises(ValueError, match=r"tensor factors differ"):
        ness.expect(wrong)
    right = qutip.tensor(qutip.num(3), qutip.qeye(2))
    assert ness.expect(right) == pytest.approx(qutip.expect(right, ness.to_qobj()), abs=1e-12)
    # a flat Qobj or array of the right size is still accepted (no tensor structure to check)
    assert ness.expect(qutip.Qobj(right.full())) == pytest.approx(ness.expect(right), abs=1e-14)
    assert ness.expect(right.full()) == pytest.approx(ness.expect(right), abs=1e-14)


def test_expect_takes_a_list_of_operators_and_a_constant_qobjevo():
    # review 14b: a list gave "op has shape (2,)", a constant QobjEvo "op has shape ()"
    ness = qness.steady_state((qutip.sigmax(), [qutip.sigmam()]))
    q = ness.to_qobj()
    vals = ness.expect([qutip.sigmaz(), qutip.sigmax()])
    assert vals.dtype == float and vals.shape == (2,)
    np.testing.assert_allclose(vals, qutip.expect([qutip.sigmaz(), qutip.sigmax()], q), atol=1e-14)
    both = ness.expect((qutip.sigmaz(), qutip.sigmam()))
    assert both.dtype == complex
    np.testing.assert_allclose(both, qutip.expect([qutip.sigmaz(), qutip.sigmam()], q), atol=1e-14)
    assert ness.expect(qutip.QobjEvo(qutip.sigmaz())) == pytest.approx(
        qutip.expect(qutip.sigmaz(), q), abs=1e-14
    )
    assert ness.expect([[1, 0], [0, -1]]) == pytest.approx(vals[0], abs=1e-14)  # nested numbers: one matrix
    with pytest.raises(ValueError, match=r"op\[1\]: op has shape \(3, 3\)"):  # review 15: entry named
        ness.expect([qutip.sigmaz(), qutip.destroy(3)])
    evo = qutip.QobjEvo([qutip.sigmaz(), [qutip.sigmax(), lambda t: np.cos(t)]])
    with pytest.raises(TypeError, match=r"op is a time-dependent qutip.QobjEvo.*pass op\(t\)"):
        ness.expect(evo)
    with pytest.raises(TypeError, match=r"op must be a 2 x 2 operator .* got float of shape \(\)"):
        ness.expect(3.0)


def test_kerr_truncation_warns():
    # the example: a linear cavity driven to alpha = -i F / (kappa / 2) = -10i, <n> = 100,
    # in 5 Fock levels: the result (<n> = 2) has nothing to do with the physics
    with pytest.warns(qness.TruncationWarning, match=r"site 0 is a boson truncated at 5 Fock levels"):
        ness = qness.steady_state(qness.models.kerr(5, detuning=0.0, U=0.0, F=5.0, kappa=1.0))
    assert photon_number(ness) < 4  # the truncated answer, far from 100
    # well inside the cutoff: <n> = |2 F / kappa|^2 = 1 in 20 levels, no warning (filterwarnings=error)
    ness = qness.steady_state(qness.models.kerr(20, detuning=0.0, U=0.0, F=0.5, kappa=1.0))
    assert photon_number(ness) == pytest.approx(1.0, rel=1e-9)


def test_truncation_warning_for_builder_sites_declared_bosonic():
    def model(kinds):
        b = qness.ModelBuilder(4, n=1, site_kinds=kinds)
        b.add_drive(2.0, "destroy", plus_hc=True)
        b.add_jump("destroy", rate=1.0)
        return b.build()

    with pytest.warns(qness.TruncationWarning, match="highest level n = 3"):
        qness.steady_state(model("boson"))
    qness.steady_state(model(None))  # not declared: nothing is known about the cutoff
    assert qness.TruncationWarning is qness.solvers.errors.TruncationWarning


def _infinite_temperature_qubit(g):
    return qness.from_qutip(0.3 * qutip.sigmaz(), [g * qutip.sigmam(), g * qutip.sigmap()])


def test_entropy_is_in_bits():
    # equal up and down rates: rho = 1/2, S = 1 bit (ln 2 nats). (scan's "entropy" quantity
    # is switched to bits on branch i13-cli, which owns scan.py.)
    from qness.analysis.entanglement import entropy

    ness = qness.steady_state(_infinite_temperature_qubit(1.0))
    assert entropy(ness) == pytest.approx(1.0, abs=1e-12)
    assert entropy(ness, base=math.e) == pytest.approx(math.log(2), abs=1e-12)
