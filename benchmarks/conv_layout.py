"""The convolutions' memory layout: channels-last (what ``sketchlib`` runs) against PyTorch's default NCHW.

    python -m benchmarks.conv_layout
    python -m benchmarks.conv_layout --batch 64 --repeats 7 --threads 1

Times forward and backward of three convolutional parts at their preset sizes: AI-Sketcher's raster
autoencoder (128x128, six 2x2 convolutions of 4-8 channels and their transposed mirror), Sketch-pix2seq's
encoder (48x48) and the CNN-LSTM VAE's encoder (64x64, 3x3 kernels, 16-128 channels). Each part runs
through the library (``sketchlib.models.encoders``: inputs and weights made channels-last on the fly)
and through its own ``nn.Conv2d`` / ``nn.ConvTranspose2d`` modules in the default layout
(``forward_reference``), on the same
weights and rasters; the two are interleaved so that a busy machine slows both alike, and the table gives
the best of ``--repeats`` runs of each, their ratio and the largest difference between their outputs.
"""

from __future__ import annotations

import argparse
import time

import torch

from sketchlib.models.encoders import CNNEncoder, RasterAutoencoder


def parts():
    """(name, raster side, library forward, plain forward) at the presets' sizes."""
    ae = RasterAutoencoder(128, z_size=64)  # aisketcher-small: ae_z_size 64
    pix = CNNEncoder(48)
    vae = CNNEncoder(64, (16, 32, 64, 128), (2, 2, 2, 2), kernel=3)
    return [
        ("AI-Sketcher autoencoder, 128x128", 128, lambda x: ae(x)[1], lambda x: ae.forward_reference(x)[1]),
        ("Sketch-pix2seq encoder, 48x48", 48, pix, pix.forward_reference),
        ("CNN-LSTM VAE encoder, 64x64", 64, vae, vae.forward_reference),
    ]


def time_once(f, x: torch.Tensor) -> float:
    t = time.perf_counter()
    out = f(x)
    out.square().mean().backward()
    return time.perf_counter() - t


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=64, help="rasters per batch (the -small presets: 64)")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"forward + backward, batch {args.batch}, {args.threads} thread(s), best of {args.repeats}")
    print("| part | NCHW ms | channels-last ms | speed-up | largest output difference |")
    print("|---|---|---|---|---|")
    for name, side, fast, plain in parts():
        x = (torch.rand(args.batch, 1, side, side) < 0.05).float()
        with torch.no_grad():
            diff = (fast(x) - plain(x)).abs().max().item()
        for f in (fast, plain):  # warm-up: oneDNN picks and caches its kernels
            time_once(f, x)
        t_fast, t_plain = [], []
        for _ in range(args.repeats):
            t_plain.append(time_once(plain, x))
            t_fast.append(time_once(fast, x))
        a, b = min(t_plain), min(t_fast)
        print(f"| {name} | {1000 * a:.1f} | {1000 * b:.1f} | {a / b:.2f}x | {diff:.1e} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
