"""One model family: Sketch-RNN, AI-Sketcher and their baselines, switched by ``SketchConfig``.

Data flow (AI-Sketcher Fig. 1b; Sketch-RNN Fig. 2 is the subset with only the
RNN encoder):

    strokes5 --BiRNN--> h_enc ---[h_enc; c]--> mu, sigma --> z_s        (eq. 2-4)
             \\--> h_enc_1..N ---------------------------> influence a_d (eq. 9-11)
    raster ----CNN autoencoder----------------------------> z_r         (Fig. 1c)
    rasters ---CNN encoder (Sketch-pix2seq, CNN-LSTM VAE)--> z           (replaces the BiRNN)

    h_0, c_0 = tanh(W [z_s; z_r])                                        (eq. 5)
    decoder input at step i: [s_{i-1}; z_s; z_r; a_d; c]                  (eq. 5)
    decoder output -> mixture of M bivariate normals + pen logits        (eq. 6-8)

Which parts exist is set by ``cfg.encoder`` ("rnn" | "cnn" | "none"),
``cfg.variational``, ``cfg.conditional``, ``cfg.influence`` and ``cfg.autoencoder``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from sketchlib.losses import all_losses, packed_positions
from sketchlib.models.cells import BiRNN, LSTMCell, active_rows, run_recurrent
from sketchlib.models.config import SketchConfig
from sketchlib.models.encoders import CNNEncoder, RasterAutoencoder
from sketchlib.models.fused_step import FusedStep
from sketchlib.models.influence import InfluenceContext, InfluenceLayer
from sketchlib.models.mdn import MixtureHead, MixtureParams

__all__ = ["SketchModel", "Latent"]


@dataclass
class Latent:
    """What the encoders produce for a batch of drawings."""

    z: torch.Tensor | None  # (B, z_size + ae_z_size): [z_s; z_r], what the decoder sees
    mu: torch.Tensor | None = None  # (B, z_size)
    logvar: torch.Tensor | None = None  # (B, z_size)
    z_r: torch.Tensor | None = None  # (B, ae_z_size)
    raster_recon: torch.Tensor | None = None  # (B, 1, R, R)
    influence: InfluenceContext | None = None


class SketchModel(nn.Module):
    def __init__(self, cfg: SketchConfig):
        super().__init__()
        self.cfg = cfg
        cond = cfg.num_classes if cfg.conditional else 0
        keep = cfg.recurrent_dropout_keep

        # ---- encoders
        self.rnn_encoder = self.cnn_encoder = None
        if cfg.encoder == "rnn":
            self.rnn_encoder = BiRNN(5, cfg.enc_rnn_size, cfg.enc_cell == "layer_norm", keep)
            enc_out = self.rnn_encoder.output_size
        elif cfg.encoder == "cnn":
            self.cnn_encoder = CNNEncoder(cfg.raster_size, cfg.cnn_channels, cfg.cnn_strides, cfg.cnn_kernel)
            enc_out = self.cnn_encoder.output_size
        # eq. 3: [h_enc; c] -> mu, sigma_hat (one layer, split in two)
        self.to_latent = None
        if cfg.encoder != "none":
            self.to_latent = nn.Linear(enc_out + cond, (2 if cfg.variational else 1) * cfg.z_size)
        self.autoencoder = (
            RasterAutoencoder(cfg.ae_raster_size, cfg.ae_channels, cfg.ae_strides, cfg.ae_z_size)
            if cfg.autoencoder
            else None
        )
        self.latent_size = (cfg.z_size if cfg.encoder != "none" else 0) + (cfg.ae_z_size if cfg.autoencoder else 0)

        # ---- decoder
        H = cfg.dec_rnn_size
        self.influence = None
        if cfg.influence:
            causal = cfg.influence_states == "forward"
            width = self.rnn_encoder.hidden_size if causal else self.rnn_encoder.output_size
            self.influence = InfluenceLayer(width, H, cfg.influence_size, causal=causal)
        self.decoder = LSTMCell(
            5 + self.latent_size + cond,
            H,
            layer_norm=cfg.dec_cell == "layer_norm",
            dropout_keep=keep,
            extra_size=cfg.influence_size if cfg.influence else 0,
        )
        self.init_state = nn.Linear(self.latent_size, 2 * H) if self.latent_size else None
        self.mixture = MixtureHead(H, cfg.num_mixture)

    # ------------------------------------------------------------------ encoding
    def encode(self, batch: dict, sample: bool = True) -> Latent:
        """Encode ``batch`` (strokes5 / lengths / onehot / rasters as the config needs).

        ``sample=False`` uses ``z = mu`` (no reparameterisation noise).
        """
        cfg = self.cfg
        lat = Latent(z=None)
        parts = []
        if cfg.encoder != "none":
            if cfg.encoder == "rnn":
                lengths = batch["lengths"]
                t_max = max(int(lengths.max()), 1)  # one host sync per batch, outside the step loop
                # h_enc = [h_fw; h_bw], the bidirectional LSTM over the drawing  (AI-Sketcher eq. 2, Sketch-RNN eq. 1)
                h, states = self.rnn_encoder(batch["strokes5"][:, 1 : t_max + 1], lengths)
                if self.influence is not None:
                    if self.influence.causal:  # the forward half: what the encoder had read up to point i
                        states = states[:, :, : self.rnn_encoder.hidden_size]
                    lat.influence = self.influence.context(states, lengths)
            else:
                h = self.cnn_encoder(batch["rasters"])
            if cfg.conditional:
                h = torch.cat([h, batch["onehot"]], dim=1)
            # [mu; sigma_hat] = W [h_enc; c] + b  (AI-Sketcher eq. 3, Sketch-RNN eq. 2)
            out = self.to_latent(h)
            if cfg.variational:
                lat.mu, lat.logvar = out.chunk(2, dim=1)
                # z_s = mu + exp(sigma_hat / 2) * N(0, I)  (AI-Sketcher eq. 4, Sketch-RNN eq. 2)
                z_s = lat.mu + torch.exp(lat.logvar / 2) * torch.randn_like(lat.mu) if sample else lat.mu
            else:
                lat.mu = z_s = out
            parts.append(z_s)
        if self.autoencoder is not None:
            lat.z_r, lat.raster_recon = self.autoencoder(batch["rasters"])
            # "separate": the autoencoder learns only from its own reconstruction loss
            parts.append(lat.z_r.detach() if cfg.ae_mode == "separate" else lat.z_r)
        if parts:
            lat.z = torch.cat(parts, dim=1)
        return lat

    # ------------------------------------------------------------------ decoding
    def static_input(self, z: torch.Tensor | None, onehot: torch.Tensor | None) -> torch.Tensor | None:
        """The per-drawing part of every decoder input, ``[z; c]`` (or None)."""
        # x_j = [s_{j-1}; z_s; z_r; a_d; c]: [z; c] is the part that never changes      (AI-Sketcher eq. 5)
        parts = [t for t in (z, onehot if self.cfg.conditional else None) if t is not None]
        return torch.cat(parts, dim=1) if parts else None

    def initial_state(self, z: torch.Tensor | None, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``h_0, c_0 = tanh(W z)``; zeros without a latent (the unconditional decoder)."""
        if self.init_state is None or z is None:
            zeros = self.mixture.linear.weight.new_zeros(batch_size, self.cfg.dec_rnn_size)
            return zeros, zeros
        # [h_0; c_0] = tanh(W z + b)                                               (AI-Sketcher eq. 5, Sketch-RNN eq. 4)
        h, c = torch.tanh(self.init_state(z)).chunk(2, dim=1)
        return h, c

    def decode(
        self,
        inputs5: torch.Tensor,
        lat: Latent,
        onehot: torch.Tensor | None = None,
        state: tuple[torch.Tensor, torch.Tensor] | None = None,
        start_step: int = 0,
        sample_influence: bool = True,
    ) -> tuple[MixtureParams, tuple[torch.Tensor, torch.Tensor], torch.Tensor | None, torch.Tensor | None]:
        """Teacher-forced decoding of ``inputs5: (B, T, 5)``.

        Returns ``(params (B, T, M), final state, mu_a (B, T, n_a) or None, alpha (B, T, T_ctx) or None)``.
        ``start_step`` is the index of the first input (the influence layer's ``j``),
        so decoding can resume where an earlier call stopped.
        """
        h, state, mu_a, alpha = self.decoder_states(inputs5, lat, onehot, state, start_step, sample_influence)
        return self.mixture(h), state, mu_a, alpha

    def decoder_states(
        self,
        inputs5: torch.Tensor,
        lat: Latent,
        onehot: torch.Tensor | None = None,
        state: tuple[torch.Tensor, torch.Tensor] | None = None,
        start_step: int = 0,
        sample_influence: bool = True,
        lengths: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor], torch.Tensor | None, torch.Tensor | None]:
        """:meth:`decode` up to the mixture head: ``(h (B, T, H), final state, mu_a, alpha)``.

        ``lengths`` (rows sorted longest first): run each row only over its first
        ``lengths[b]`` inputs and keep its state after them (a packed batch; the
        influence layer's ``mu_a`` and ``alpha`` are zero at the steps left out).
        """
        B, T, _ = inputs5.shape
        if state is None:
            state = self.initial_state(lat.z, B)
        static = self.static_input(lat.z, onehot)  # [z; c], the same at every step
        if self.influence is None:
            outputs, state = run_recurrent(self.decoder, inputs5, state, static, lengths=lengths)  # fused.FusedLSTM
            return outputs, state, None, None
        xw = self.decoder.split_projection(inputs5, static)  # (T, B, 4H)
        active = None if lengths is None else active_rows(lengths, T)
        return self._decode_with_influence(xw, lat, state, start_step, sample_influence, active)

    def _decode_with_influence(
        self,
        xw: torch.Tensor,
        lat: Latent,
        state: tuple[torch.Tensor, torch.Tensor],
        start_step: int,
        sample_influence: bool,
        active: tuple[int, ...] | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor], torch.Tensor | None, torch.Tensor | None]:
        """The step loop under autograd: ``a_d`` of step ``j`` depends on ``h_{j-1}`` (eq. 9-11).

        ``active[t]``: only rows ``[0, active[t])`` step at ``t`` (a packed batch); the others keep their state.
        """
        T, B = xw.shape[0], xw.shape[1]
        step = FusedStep(self.decoder) if self.decoder.fused else self.decoder.step
        masks = self.decoder.dropout_masks(T, B, xw)
        xs = xw.unbind(0)  # one backward node for all steps (xw[t] would allocate a full gradient per step)
        h, c = state
        outs, mus, alphas = [], [], []
        noise = None
        if sample_influence:
            noise = torch.randn(T, B, self.cfg.influence_size, device=xw.device, dtype=xw.dtype)
        for t in range(T):
            b = B if active is None else active[t]
            if b == B:
                a, mu_a, alpha = self.influence(h, lat.influence, start_step + t, None if noise is None else noise[t])
                h, c = step(xs[t], h, c, None if masks is None else masks[t], a)
            else:  # rows [b, B) have ended: they keep (h, c), and their mu_a and alpha are zero
                ctx = None if lat.influence is None else lat.influence.prefix(b)
                a, mu_a, alpha = self.influence(h[:b], ctx, start_step + t, None if noise is None else noise[t, :b])
                h_b, c_b = step(xs[t][:b], h[:b], c[:b], None if masks is None else masks[t, :b], a)
                h, c = torch.cat([h_b, h[b:]]), torch.cat([c_b, c[b:]])
                if mu_a is not None:
                    mu_a = torch.cat([mu_a, mu_a.new_zeros(B - b, mu_a.shape[1])])
                    alpha = torch.cat([alpha, alpha.new_zeros(B - b, alpha.shape[1])])
            if mu_a is not None:
                mus.append(mu_a)
                alphas.append(alpha)
            outs.append(h)
        mu_a = torch.stack(mus, dim=1) if mus else None
        alpha = torch.stack(alphas, dim=1) if alphas else None
        return torch.stack(outs, dim=1), (h, c), mu_a, alpha

    # ------------------------------------------------------------------ training
    def forward(self, batch: dict) -> dict:
        """The training pass. A packed batch (``batch["packed"]``, rows sorted longest first) runs the decoder
        and the mixture head only over each drawing's points and first end rows (``SketchConfig.pack``)."""
        lat = self.encode(batch, sample=True)
        strokes5 = batch["strokes5"]
        inputs = self.drop_decoder_inputs(strokes5[:, :-1])
        if not batch.get("packed"):
            params, _, mu_a, alpha = self.decode(inputs, lat, batch.get("onehot"))
            return {"params": params, "latent": lat, "mu_a": mu_a, "alpha": alpha}
        packed = packed_positions(batch["lengths"], inputs.shape[1], self.cfg.max_seq_len, self.cfg.pack_end_rows,
                                  inputs.dtype)
        h, _, mu_a, alpha = self.decoder_states(inputs, lat, batch.get("onehot"), lengths=packed.steps)
        params = self.mixture(h.reshape(-1, h.shape[-1])[packed.rows])  # (N, M): the positions the loss counts
        return {"params": params, "latent": lat, "mu_a": mu_a, "alpha": alpha, "packed": packed}

    def drop_decoder_inputs(self, inputs: torch.Tensor) -> torch.Tensor:
        """Training only: zero each previous point s_{j-1} (all five numbers) with probability
        ``cfg.decoder_input_dropout``, so the decoder must lean on z (``SketchConfig.decoder_input_dropout``).
        The start token s_0 is kept."""
        p = self.cfg.decoder_input_dropout
        if not self.training or p == 0.0:
            return inputs
        keep = torch.rand(inputs.shape[0], inputs.shape[1], 1, device=inputs.device) >= p
        keep[:, 0] = True
        return inputs * keep.to(inputs.dtype)

    def compute_losses(self, batch: dict, kl_weight: float) -> dict[str, torch.Tensor]:
        """All loss terms of eq. 12-14 for one batch (:func:`sketchlib.losses.all_losses`); ``'total'`` is what
        to minimise.

        Keys: total, l_r, l_s, l_p, l_kl, l_z, l_a, l_ae (zeros for parts that are off).
        ``kl_weight`` is alpha of eq. 12 at this step (annealed by the trainer).
        """
        return all_losses(self(batch), batch, self.cfg, kl_weight)

    # ------------------------------------------------------------------ helpers
    @property
    def device(self) -> torch.device:
        return self.mixture.linear.weight.device

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
