"""The native LSTM kernels (``sketchlib/models/csrc/lstm_step.cpp``) compute what the Python kernels compute.

The Python ``_PointwiseStep`` is itself checked against the readable reference
(``tests/test_fast_path.py``, float64 gradchecks); here the native step is checked
against it in float32, forward, kept derivatives and backward, and the whole
``FusedLSTM`` loop with and without the native kernels.
"""

from __future__ import annotations

import os
import warnings

import pytest
import torch
from test_fast_path import perturbed_cell

from sketchlib.models import native
from sketchlib.models.cells import run_recurrent
from sketchlib.models.fused import _NormGradSums, _PointwiseStep

pytestmark = pytest.mark.skipif(os.environ.get("SKETCHLIB_NATIVE") == "0", reason="SKETCHLIB_NATIVE=0")


def test_the_native_kernels_build_here():
    # CI and this machine have a compiler and ninja: a failed build must show, not fall back silently
    assert native.kernels() is not None


def python_and_native(layer_norm: bool, B: int = 7, H: int = 33):
    cell = perturbed_cell(layer_norm, 5, H)
    py = _PointwiseStep.of(cell)
    return cell, py, native.NativePointwise(py)


@pytest.mark.parametrize("layer_norm", [True, False])
@pytest.mark.parametrize("with_mask", [True, False])
@torch.no_grad()  # as inside FusedLSTM's forward and backward
def test_native_step_equals_the_python_step_forward_and_backward(layer_norm, with_mask):
    torch.manual_seed(0)
    B, H = 7, 33  # H not a multiple of the vector width: the loops' tails run too
    cell, py, nat = python_and_native(layer_norm, B, H)
    gates, c = 2 * torch.randn(B, 4 * H), torch.randn(B, H)
    mask = (torch.rand(B, H) < 0.8).float() / 0.8 if with_mask else None
    h_py, h_nat = torch.empty(B, H), torch.full((B, 2 * H), float("nan"))[:, :H]  # a strided h_out
    c_py, kept_py = py.step(gates.clone(), c, mask, h_py, keep=True)
    c_nat, kept_nat = nat.step(gates.clone(), c, mask, h_nat, keep=True)
    torch.testing.assert_close(h_nat, h_py, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(c_nat, c_py, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(kept_nat[0], kept_py.deriv.reshape(B, 4 * H), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(kept_nat[1], kept_py.f, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(kept_nat[2], kept_py.dh_dcn, rtol=1e-5, atol=1e-6)

    dh, dc = torch.randn(B, H), torch.randn(B, H)
    sums_py = _NormGradSums(c, B, H) if layer_norm else None
    sums_nat = _NormGradSums(c, B, H) if layer_norm else None
    dg_py, dg_nat = torch.empty(B, 4 * H), torch.empty(B, 4 * H)
    dc_py = py.backward(kept_py, dh, dc, dg_py, sums_py)
    dc_nat = nat.backward(kept_nat, dh, dc, dg_nat, sums_nat)
    torch.testing.assert_close(dg_nat, dg_py, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(dc_nat, dc_py, rtol=1e-4, atol=1e-5)
    if layer_norm:
        for a, b in zip(sums_nat.totals(), sums_py.totals(), strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


@torch.no_grad()
def test_native_sigmoid_is_accurate_over_the_float_range():
    # the kernel's exp is a polynomial: check the gates' sigmoid at extreme and ordinary pre-activations
    cell, py, nat = python_and_native(False, 1, 64)
    extremes = torch.tensor([-1e30, 1e30, 0.0, -0.0, 1e-8, 87.5, -87.5, 30])
    x = torch.cat([torch.linspace(-100, 100, 4 * 64 - 8), extremes])
    gates = x.view(1, 4 * 64)
    h = torch.empty(1, 64)
    _, kept = nat.step(gates.clone(), torch.zeros(1, 64), None, h, keep=True)
    _, kept_py = py.step(gates.clone(), torch.zeros(1, 64), None, torch.empty(1, 64), keep=True)
    f_nat, f_py = kept[1], kept_py.f  # the forget gate: sigmoid of block 2 (plus the forget bias)
    torch.testing.assert_close(f_nat, f_py, rtol=1e-6, atol=1e-7)
    assert torch.isfinite(kept[0]).all()


@pytest.mark.parametrize("layer_norm", [True, False])
def test_fused_loop_with_and_without_the_native_kernels_agree(layer_norm, monkeypatch):
    torch.manual_seed(1)
    T, B, n, m, H = 30, 16, 5, 7, 24
    cell = perturbed_cell(layer_norm, n + m, H, keep=0.9)
    x, static = torch.randn(B, T, n), torch.randn(B, m, requires_grad=True)
    h0, c0 = torch.randn(B, H, requires_grad=True), torch.randn(B, H, requires_grad=True)
    masks = cell.dropout_masks(T, B, x)
    results = []
    for use_native in (True, False):
        monkeypatch.setattr(native, "usable", lambda like, _u=use_native: _u)
        leaves = [static, h0, c0, *cell.parameters()]
        for t in leaves:
            t.grad = None
        out, (h, c) = run_recurrent(cell, x, (h0, c0), static, masks)
        (out.square().mean() + c.sum()).backward()
        results.append([out.detach(), c.detach()] + [t.grad.clone() for t in leaves])
    for a, b in zip(*results, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_native_kernel_refuses_other_dtypes_with_a_clear_error():
    cell, py, nat = python_and_native(True, 2, 8)
    with pytest.raises(RuntimeError, match="CPU float32"):
        nat.step(torch.zeros(2, 32, dtype=torch.float64), torch.zeros(2, 8), None, torch.empty(2, 8), keep=False)


def test_a_failed_build_falls_back_to_the_python_kernels_with_one_warning(monkeypatch):
    import torch.utils.cpp_extension as ext

    def broken(**kw):
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(native, "_state", {})
    monkeypatch.setattr(ext, "load", broken)
    with pytest.warns(RuntimeWarning, match="no compiler here"):
        assert native.kernels() is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the second call neither retries nor warns again
        assert native.kernels() is None
        assert not native.usable(torch.zeros(1))


def test_sampling_never_starts_the_compiler_but_uses_a_build_on_disk(monkeypatch, tmp_path):
    # the pad's "Complete" click builds an InferenceStep: on a machine without a build it must take the
    # Python kernels at once (the CI pad test once waited 30 s for the compiler), and use the build once there
    import torch.utils.cpp_extension as ext

    from sketchlib.models.fused import _PointwiseStep as Python
    from sketchlib.models.fused_step import InferenceStep

    calls = []
    monkeypatch.setattr(native, "_state", {})
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path))
    monkeypatch.setattr(ext, "load", lambda **kw: calls.append(kw) or "built")
    cell = perturbed_cell(True, 5, 8)
    assert not native.is_built()
    assert isinstance(InferenceStep(cell, 1).pointwise, Python) and calls == []
    assert native.kernels(build=False) is None and calls == []
    x, zeros = torch.randn(2, 4, 5), torch.zeros(2, 8)
    with torch.no_grad():  # encoding the user's strokes, validation: no build either
        run_recurrent(cell, x, (zeros, zeros))
    assert calls == []
    name, folder = native.build_directory()
    assert folder.parent.parent == tmp_path
    folder.mkdir(parents=True)
    (folder / f"{name}.so").touch()
    assert native.is_built() and native.kernels(build=False) == "built"
    assert calls[0]["name"] == name and calls[0]["build_directory"] == str(folder)


def test_training_builds_the_kernels_on_first_use(monkeypatch, tmp_path):
    import torch.utils.cpp_extension as ext

    calls = []
    monkeypatch.setattr(native, "_state", {})
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path))
    monkeypatch.setattr(ext, "load", lambda **kw: calls.append(kw) or None)  # a "build" that yields nothing
    cell, zeros = perturbed_cell(True, 5, 8), torch.zeros(2, 8)
    out, _ = run_recurrent(cell, torch.randn(2, 4, 5), (zeros, zeros))  # grad on: a training step
    out.sum().backward()
    assert len(calls) == 1 and calls[0]["name"] == native.build_directory()[0]


def test_build_native_command_reports_the_build(capsys):
    from sketchlib.cli import main

    assert main(["build-native"]) == 0
    assert "native LSTM kernels" in capsys.readouterr().out and native.is_built()


def test_build_native_command_fails_clearly_when_disabled(monkeypatch, capsys):
    from sketchlib.cli import main

    monkeypatch.setattr(native, "_state", {})
    monkeypatch.setenv("SKETCHLIB_NATIVE", "0")
    assert main(["build-native"]) != 0
    assert "SKETCHLIB_NATIVE=0" in capsys.readouterr().err


def test_a_lock_left_by_a_killed_build_does_not_block_the_next_load(monkeypatch, tmp_path):
    # torch's build lock is a plain file; a build killed half-way (Ctrl-C) leaves it, and torch then waits forever
    import torch.utils.cpp_extension as ext

    monkeypatch.setattr(native, "_state", {})
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path))
    name, folder = native.build_directory()
    folder.mkdir(parents=True)
    (folder / "lock").touch()
    seen = []
    monkeypatch.setattr(ext, "load", lambda **kw: seen.append((folder / "lock").exists()) or "built")
    assert native.kernels() == "built" and seen == [False]
