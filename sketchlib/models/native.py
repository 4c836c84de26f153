"""Optional native (C++) kernels for the point-wise part of an LSTM step, compiled on first use.

:class:`~sketchlib.models.fused.FusedLSTM` (the training loop) spends about a
quarter of a ``sketch_rnn-small`` step in some twenty small ATen ops per LSTM
step, each a pass over the ``(B, 4H)`` gates plus the dispatcher's overhead.
``csrc/lstm_step.cpp`` does the same mathematics in one pass per row, forward
(with the local derivatives the backward pass needs) and backward.
:class:`~sketchlib.models.fused._PointwiseStep` stays the Python version of it,
and ``tests/test_native.py`` checks that the two agree.

The kernels are built with ``torch.utils.cpp_extension.load`` (needs a C++
compiler and ``ninja``; about a minute, once per machine, cached under
``~/.cache/torch_extensions``). Where the build fails (no compiler, Windows
without MSVC), the Python kernels run instead, after one warning. Set
``SKETCHLIB_NATIVE=0`` to never try. Only CPU float32 outside autocast uses them;
GPUs and float64 (the gradchecks) take the Python kernels.
"""

from __future__ import annotations

import hashlib
import os
import platform
import warnings
from pathlib import Path

import torch

__all__ = ["kernels", "usable", "NativePointwise"]

_SOURCE = Path(__file__).parent / "csrc" / "lstm_step.cpp"
_state: dict = {}


def _cpu_tag() -> str:
    """A short hash of this CPU's model and flags: the build uses ``-march=native``, so a cache shared by
    machines with different CPUs (a network home directory) must not hand one machine another's binary."""
    info = platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            info += "".join(line for line in f if line.startswith(("model name", "flags")))[:20000]
    except OSError:
        info += platform.processor()
    return hashlib.sha1(info.encode()).hexdigest()[:10]


def kernels():
    """The compiled module (``step_forward``, ``step_backward``), or None where it cannot be built."""
    if "module" not in _state:
        _state["module"] = None
        if os.environ.get("SKETCHLIB_NATIVE", "1") != "0":
            try:
                from torch.utils.cpp_extension import load

                flags = ["-O3", "-fopenmp-simd", "-fno-trapping-math"]  # the last two let GCC vectorise the loops
                if platform.machine() in ("x86_64", "AMD64"):
                    flags.append("-march=native")
                _state["module"] = load(name=f"sketchlib_lstm_step_{_cpu_tag()}", sources=[str(_SOURCE)],
                                        extra_cflags=flags, verbose=False)
            except Exception as e:  # no compiler, no ninja, a failed build: the Python kernels still work
                warnings.warn(f"sketchlib: the native LSTM kernels ({_SOURCE.name}) could not be built, so training "
                              f"uses the slower Python kernels ({type(e).__name__}: {str(e)[:300]}). Install a C++ "
                              "compiler and `pip install ninja`, or set SKETCHLIB_NATIVE=0 to skip the attempt.",
                              RuntimeWarning, stacklevel=2)
    return _state["module"]


def usable(like: torch.Tensor) -> bool:
    """Whether the native kernels apply to tensors like ``like`` (CPU float32, no autocast) and are built."""
    return (like.device.type == "cpu" and like.dtype == torch.float32 and not torch.is_autocast_enabled("cpu")
            and kernels() is not None)


class NativePointwise:
    """:class:`~sketchlib.models.fused._PointwiseStep`'s ``step`` and ``backward``, through the native kernels."""

    def __init__(self, python_step):
        self.H, self.layer_norm = python_step.H, python_step.layer_norm
        self.k = kernels()
        flat = lambda t: None if t is None else t.detach().reshape(-1).contiguous()  # noqa: E731
        self.scale, self.shift = flat(python_step.scale), flat(python_step.shift)
        self.cell_scale = flat(python_step.cell_scale) if self.layer_norm else None
        self.cell_shift = flat(python_step.cell_shift) if self.layer_norm else None
        self.gate_gamma = flat(python_step.gate_gamma) if self.layer_norm else None
        self.cell_gamma = flat(python_step.cell_gamma) if self.layer_norm else None

    def step(self, gates: torch.Tensor, c: torch.Tensor, mask: torch.Tensor | None, h_out: torch.Tensor,
             keep: bool) -> tuple[torch.Tensor, list | None]:
        """``gates: (B, 4H)`` (overwritten), ``c: (B, H)`` -> ``(c', what backward needs or None)``.

        ``h`` is written into ``h_out``.
        """
        out = self.k.step_forward(gates.contiguous(), c.contiguous(), mask, self.scale, self.shift,
                                  self.cell_scale, self.cell_shift, h_out, keep)
        return out[0], (out[1:] if keep else None)

    def backward(self, kept: list, dh: torch.Tensor, dc: torch.Tensor, d_gates: torch.Tensor, sums) -> torch.Tensor:
        """As :meth:`_PointwiseStep.backward <sketchlib.models.fused._PointwiseStep.backward>`."""
        B = dh.shape[0]
        s = [sums.gamma.view(B, -1), sums.beta.view(B, -1), sums.cell_gamma, sums.cell_beta] if sums else []
        return self.k.step_backward(kept, dh.contiguous(), dc.contiguous(), d_gates, s, self.gate_gamma,
                                    self.cell_gamma)
