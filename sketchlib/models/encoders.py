"""Convolutional parts: Sketch-pix2seq's CNN encoder and AI-Sketcher's CNN autoencoder.

The recurrent encoder (bidirectional LSTM over stroke-5) is ``cells.BiRNN``.
Convolutions use TensorFlow's ``SAME`` padding (output side = ceil(input / stride)),
as both papers' TensorFlow code does, so a 2x2 kernel with stride 1 pads one
pixel on the right and at the bottom.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from sketchlib.losses import autoencoder_loss

__all__ = ["CNNEncoder", "RasterAutoencoder", "same_padding", "init_weights"]


#: Sketch-pix2seq's six 2x2 convolutions: their depths and strides (Chen et al. 2017, Fig. 2).
PIX2SEQ_CHANNELS = (4, 4, 8, 8, 8, 8)
PIX2SEQ_STRIDES = (2, 1, 2, 1, 2, 1)


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """``(before, after)`` padding of TensorFlow's ``SAME`` for one spatial side."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def init_weights(module: nn.Module) -> None:
    """He (Kaiming) normal weights for the (transposed) convolutions, which ReLUs follow, Glorot for the
    fully connected layers, zero biases.

    PyTorch's default init (uniform with variance ``1 / (3 fan_in)``) shrinks the signal by about
    ``sqrt(6)`` per ReLU layer; with the tiny fan-ins here (2x2 kernels, 1-8 channels) and sparse inputs
    (about 5% ink) six layers leave features that are almost only biases: at init the code ``z_r`` of
    different faces differs by 1e-5 to 2e-3, and an autoencoder trained from there collapses to decoding the
    mean face. He init keeps the variance through the ReLU stack (He et al. 2015).
    """
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")  # fan_in = C_in * k * k
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.ConvTranspose2d):
            # each output pixel sums C_in * k * k / stride^2 terms (nn.init would count C_out * k * k)
            k, stride = m.kernel_size[0] * m.kernel_size[1], m.stride[0] * m.stride[1]
            fan_in = max(m.in_channels * k // stride, 1)
            nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_in))
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)


#: Convolutions run channels-last (NHWC). With so few channels (1-8) and 2x2 kernels, oneDNN's default
#: (NCHW) convolutions on CPU spend most of their time re-laying out data: forward and backward of the
#: 128x128 autoencoder took 135 ms per batch of 64 at one thread, against 74 ms channels-last
#: (``python -m benchmarks.conv_layout``, benchmarks/README.md). Only the layout changes: the parameters stay
#: in PyTorch's default layout (so initialisation, checkpoints and optimiser states are as before), and
#: ``flatten`` / ``view`` read the logical (C, H, W) order, so every number is the same as the plain modules'
#: (``forward_reference``).
NHWC = torch.channels_last


def _nhwc(t: torch.Tensor) -> torch.Tensor:
    return t.contiguous(memory_format=NHWC)


class _SameConv(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int, size: int):
        super().__init__()
        a, b = same_padding(size, kernel, stride)
        self.pad = (a, b, a, b)  # left, right, top, bottom
        self.conv = nn.Conv2d(cin, cout, kernel, stride)
        self.out_size = math.ceil(size / stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv = self.conv
        return F.conv2d(_nhwc(F.pad(x, self.pad)), _nhwc(conv.weight), conv.bias, conv.stride)


class CNNEncoder(nn.Module):
    """Convolutions + ReLU over a binary raster, flattened (Sketch-pix2seq, Chen et al. 2017, Fig. 2).

    Defaults: six 2x2 convolutions, strides 2/1/2/1/2/1, channels 4/4/8/8/8/8 on a
    48x48 raster, giving 8 x 6 x 6 = 288 features.

    ``rasters: (B, 1, R, R) -> features: (B, output_size)``
    """

    def __init__(self, input_size: int = 48, channels: Sequence[int] = PIX2SEQ_CHANNELS,
                 strides: Sequence[int] = PIX2SEQ_STRIDES, kernel: int = 2):
        super().__init__()
        layers, cin, size = [], 1, input_size
        for cout, s in zip(channels, strides):
            conv = _SameConv(cin, cout, kernel, s, size)
            layers += [conv, nn.ReLU()]
            cin, size = cout, conv.out_size
        self.net = nn.Sequential(*layers)
        self.input_size = input_size
        self.out_shape = (cin, size, size)
        self.output_size = cin * size * size
        init_weights(self)

    def forward(self, rasters: torch.Tensor) -> torch.Tensor:
        return self.net(rasters).flatten(1)

    def forward_reference(self, rasters: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` through the plain ``nn.Conv2d`` modules in PyTorch's default layout (the check of NHWC)."""
        x = rasters
        for layer in self.net:
            x = layer.conv(F.pad(x, layer.pad)) if isinstance(layer, _SameConv) else layer(x)
        return x.flatten(1)


#: Share of ink pixels in a 128x128 raster of a sketch (5.3% on the face set): the autoencoder's output prior.
INK_PRIOR = 0.05


class RasterAutoencoder(nn.Module):
    """AI-Sketcher's CNN autoencoder (Cao et al. 2019, Fig. 1c and "CNN-based Autoencoder").

    Encoder: three stride-2 and three stride-1 convolutions with 2x2 kernels and
    ReLU, then a fully connected layer with tanh to ``z_r`` (128). Decoder: the
    mirror image: a fully connected layer back to the last feature map, then
    transposed convolutions with the strides and depths in reverse, ReLU between
    them and a sigmoid at the end. Trained with the Euclidean (squared error)
    reconstruction loss on 128x128 binarised rasters.

    Depths: the paper's text fixes the layer count, kernels and strides; we use
    the depths 4/4/8/8/8/8 of Sketch-pix2seq, whose encoder this one extends to
    128x128 (8 x 16 x 16 = 2048 features before the tanh layer).

    Usable pretrained-then-frozen (:meth:`freeze`) or trained jointly.
    """

    def __init__(self, input_size: int = 128, channels: Sequence[int] = PIX2SEQ_CHANNELS,
                 strides: Sequence[int] = PIX2SEQ_STRIDES, z_size: int = 128):
        super().__init__()
        self.encoder = CNNEncoder(input_size, channels, strides, kernel=2)
        self.to_z = nn.Linear(self.encoder.output_size, z_size)
        self.from_z = nn.Linear(z_size, self.encoder.output_size)
        # mirror: walk the encoder backwards; each transposed conv undoes one conv's stride
        sizes = [input_size]
        for s in strides:
            sizes.append(math.ceil(sizes[-1] / s))
        self.deconvs = nn.ModuleList()
        self.out_sizes = []
        for i in reversed(range(len(channels))):
            cin = channels[i]
            cout = channels[i - 1] if i > 0 else 1
            self.deconvs.append(nn.ConvTranspose2d(cin, cout, 2, strides[i]))
            self.out_sizes.append(sizes[i])
        self.z_size = z_size
        init_weights(self)
        # the last layer's bias starts at the logit of the ink prior: at 5% ink an output of 0.5 everywhere
        # gives a loss of 0.25 whose gradient drives the tanh code into saturation (z_r = +-1 for every
        # drawing) within some 25 Adam steps at lr 1e-3; starting near the blank page avoids it
        nn.init.constant_(self.deconvs[-1].bias, math.log(INK_PRIOR / (1 - INK_PRIOR)))

    def encode(self, rasters: torch.Tensor) -> torch.Tensor:
        """``rasters: (B, 1, R, R) -> z_r: (B, z_size)`` in (-1, 1)."""
        return torch.tanh(self.to_z(self.encoder(rasters)))

    def decode(self, z_r: torch.Tensor) -> torch.Tensor:
        """``z_r: (B, z_size) -> (B, 1, R, R)`` pixel probabilities."""
        x = F.relu(self.from_z(z_r)).view(-1, *self.encoder.out_shape)
        last = len(self.deconvs) - 1
        for k, (deconv, size) in enumerate(zip(self.deconvs, self.out_sizes)):
            x = F.conv_transpose2d(_nhwc(x), _nhwc(deconv.weight), deconv.bias, deconv.stride)
            x = x[..., :size, :size]  # crop the SAME padding's extra row/column
            x = torch.sigmoid(x) if k == last else F.relu(x)
        return x

    def forward(self, rasters: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z_r = self.encode(rasters)
        return z_r, self.decode(z_r)

    def forward_reference(self, rasters: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`forward` through the plain (transposed) convolution modules in PyTorch's default layout."""
        z_r = torch.tanh(self.to_z(self.encoder.forward_reference(rasters)))
        x = F.relu(self.from_z(z_r)).view(-1, *self.encoder.out_shape)
        last = len(self.deconvs) - 1
        for k, (deconv, size) in enumerate(zip(self.deconvs, self.out_sizes)):
            x = deconv(x)[..., :size, :size]
            x = torch.sigmoid(x) if k == last else F.relu(x)
        return z_r, x

    @staticmethod
    def reconstruction_loss(recon: torch.Tensor, rasters: torch.Tensor) -> torch.Tensor:
        """``l_ae``, the Euclidean loss: :func:`sketchlib.losses.autoencoder_loss`."""
        return autoencoder_loss(recon, rasters)

    def freeze(self) -> None:
        """Pretrained-then-frozen use: no gradients reach the autoencoder any more."""
        for p in self.parameters():
            p.requires_grad_(False)
