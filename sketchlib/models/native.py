"""Optional native (C++) kernels for the point-wise part of an LSTM step, compiled on first use.

:class:`~sketchlib.models.fused.FusedLSTM` (the training loop) spends about a
quarter of a ``sketch_rnn-small`` step in some twenty small ATen ops per LSTM
step, each a pass over the ``(B, 4H)`` gates plus the dispatcher's overhead.
``csrc/lstm_step.cpp`` does the same mathematics in one pass per row, forward
(with the local derivatives the backward pass needs) and backward.
:class:`~sketchlib.models.fused._PointwiseStep` stays the Python version of it,
and ``tests/test_native.py`` checks that the two agree.

The kernels are built with ``torch.utils.cpp_extension.load`` (needs a C++
compiler and ``ninja``; about 25 s on a quiet core, once per machine, cached
under ``~/.cache/torch_extensions/sketchlib``, see :func:`build_directory`).
Training builds them on first use; sampling only uses a build that is already
there, so an interactive pad never waits for the compiler; ``scripts/setup.sh``
builds ahead with ``python -m sketchlib build-native``. Where the build fails
(no compiler, Windows without MSVC), the Python kernels run instead, after one
warning. Set ``SKETCHLIB_NATIVE=0`` to never try. Only CPU float32 outside
autocast uses them; GPUs and float64 (the gradchecks) take the Python kernels.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import warnings
from pathlib import Path

import torch

__all__ = ["kernels", "usable", "is_built", "build_directory", "NativePointwise"]

_SOURCE = Path(__file__).parent / "csrc" / "lstm_step.cpp"
_state: dict = {}


_FLAGS = ["-O3", "-fopenmp-simd", "-fno-trapping-math"]  # the last two let GCC vectorise the loops
if platform.machine() in ("x86_64", "AMD64"):
    _FLAGS.append("-march=native")


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


def build_directory() -> tuple[str, Path]:
    """The extension's name and the folder its build lands in.

    The name hashes the CPU, the source and its path, the flags and the torch version, so the
    folder holds exactly one build, ``<name>.so``, and whether it exists says whether
    loading needs a compiler run (about 25 s) or only an import.
    """
    # the source's path too: ninja rebuilds when the build file names another checkout's source
    key = _cpu_tag() + str(_SOURCE) + _SOURCE.read_text() + " ".join(_FLAGS) + torch.__version__
    name = f"sketchlib_lstm_step_{hashlib.sha1(key.encode()).hexdigest()[:12]}"
    root = os.environ.get("TORCH_EXTENSIONS_DIR")
    if root is None:
        from torch.utils.cpp_extension import get_default_build_root

        root = get_default_build_root()
    return name, Path(root) / "sketchlib" / name


@contextlib.contextmanager
def _build_lock(folder: Path):
    """Hold an OS lock on the build folder while loading or building.

    torch's own lock is a file that a build killed half-way (Ctrl-C, a killed
    process) leaves behind, and every later load then waits for it forever.
    An ``flock`` dies with its process; whoever holds it is the only one
    building, so a torch lock file found then is stale and is removed.
    """
    try:
        import fcntl
    except ImportError:  # Windows: torch's lock alone
        yield
        return
    with open(folder / "sketchlib.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            (folder / "lock").unlink(missing_ok=True)
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def is_built() -> bool:
    """Whether this machine has the compiled kernels on disk (or they are loaded already)."""
    if _state.get("module") is not None:
        return True
    name, folder = build_directory()
    return (folder / f"{name}.so").exists() or (folder / f"{name}.pyd").exists()


def kernels(build: bool = True):
    """The compiled module (``step_forward``, ``step_backward``), or None where it cannot be built.

    ``build=False`` only loads a build that is already on disk and returns None
    otherwise (without giving up on a later build): interactive sampling, such as
    the sketch pad's "Complete" button, must not wait for the compiler. Training
    builds on first use; ``python -m sketchlib build-native`` (run by
    ``scripts/setup.sh``) builds ahead.
    """
    if "module" not in _state:
        if os.environ.get("SKETCHLIB_NATIVE", "1") == "0":
            _state["module"] = None
            return None
        if not build and not is_built():
            return None
        _state["module"] = None
        try:
            from torch.utils.cpp_extension import load

            name, folder = build_directory()
            folder.mkdir(parents=True, exist_ok=True)
            with _build_lock(folder):
                _state["module"] = load(name=name, sources=[str(_SOURCE)], extra_cflags=_FLAGS,
                                        build_directory=str(folder), verbose=False)
        except Exception as e:  # no compiler, no ninja, a failed build: the Python kernels still work
            warnings.warn(f"sketchlib: the native LSTM kernels ({_SOURCE.name}) could not be built, so training "
                          f"uses the slower Python kernels ({type(e).__name__}: {str(e)[:300]}). Install a C++ "
                          "compiler and `pip install ninja`, or set SKETCHLIB_NATIVE=0 to skip the attempt.",
                          RuntimeWarning, stacklevel=2)
    return _state["module"]


def usable(like: torch.Tensor, build: bool = True) -> bool:
    """Whether the native kernels apply to tensors like ``like`` (CPU float32, no autocast) and are built
    (``build=False``: already built, see :func:`kernels`)."""
    return (like.device.type == "cpu" and like.dtype == torch.float32 and not torch.is_autocast_enabled("cpu")
            and kernels(build) is not None)


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

