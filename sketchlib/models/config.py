"""One configuration dataclass for the whole model family, and the named presets.

Sketch-RNN, conditional Sketch-RNN, the AI-Sketcher ablations, the full
AI-Sketcher, Sketch-pix2seq and the CNN-LSTM VAE differ only by these fields:
which encoder runs (``encoder``), whether the latent is variational, whether the
class vector, the influence layer (AI-Sketcher eq. 9-11) and the CNN
autoencoder (AI-Sketcher Fig. 1c) are switched on, and the sizes.

Defaults are Magenta's Sketch-RNN hyper-parameters (``sketch_rnn/model.py``
``get_default_hparams``); the AI-Sketcher presets take the paper's values.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

__all__ = ["SketchConfig", "PRESETS", "preset", "preset_names", "config_diff"]


@dataclass
class SketchConfig:
    """Every hyper-parameter of a model and of its training run."""

    name: str = "sketch_rnn"

    # ---- data
    max_seq_len: int = 250  #: N_max; the trainer lowers it to the data's longest drawing
    num_classes: int = 1  #: k, the length of the class vector c (set from the data)
    raster_size: int = 48  #: side of the raster the CNN encoder reads (Sketch-pix2seq: 48)
    pad_to: Literal["max_seq_len", "batch"] = "max_seq_len"  #: see SketchDataset
    #: training batches group drawings of similar length and pad only to their own
    #: longest (see sketchlib.datasets.LengthBuckets): about half the compute on
    #: QuickDraw faces, whose drawings average 65 points against N_max = 131.
    #: Validation and every measured loss still pad to N_max. False: Sketch-RNN's
    #: uniform batches, padded as ``pad_to`` says.
    bucket: bool = False
    #: packed batches, the alternative to ``bucket``: each training batch is
    #: Sketch-RNN's uniform random draw, sorted longest drawing first, and the
    #: encoder, the decoder and the mixture head run only over each drawing's own
    #: points and its first ``pack_end_rows`` end rows (``run_recurrent``'s
    #: ``lengths``); the last of them counts for the rest of the paper's padding up
    #: to ``N_max``, over which the state is taken to stay put. Measured on
    #: QuickDraw faces (benchmarks/README.md): at equal steps as good as N_max
    #: padding, where buckets lose 0.03 of valid l_r at step 2,000; but 0.80x the
    #: buckets' drawings per second on one thread (a batch runs as many steps as its
    #: longest drawing), so per CPU second the two tie.
    pack: bool = False
    #: end rows each drawing of a packed batch is decoded over: the first teaches
    #: the model to end, the next ones what to predict after an "end" input (the
    #: paper's validation loss runs over all the padding; with one end row the
    #: model never sees that input, and its valid l_p stays far above N_max
    #: padding's: see benchmarks/README.md)
    pack_end_rows: int = 4
    #: every ``pack_full_every``-th training batch of a packed run is not packed: the
    #: decoder runs over all of the batch's padding, as in Sketch-RNN. Past a dozen
    #: "end" inputs the state of a model trained only on packed batches drifts, and
    #: the paper's L_p, which counts every padding row, rises (benchmarks/README.md).
    #: 0: never.
    pack_full_every: int = 8

    # ---- encoder
    encoder: Literal["rnn", "cnn", "none"] = "rnn"
    enc_rnn_size: int = 256  #: per direction; h_enc has 2 * enc_rnn_size values
    enc_cell: Literal["lstm", "layer_norm"] = "lstm"
    cnn_channels: tuple[int, ...] = (4, 4, 8, 8, 8, 8)  #: Sketch-pix2seq's CNN encoder
    cnn_strides: tuple[int, ...] = (2, 1, 2, 1, 2, 1)
    cnn_kernel: int = 2
    z_size: int = 128  #: N_z (AI-Sketcher: z_s)
    variational: bool = True  #: False: z = mu, no KL term (Sketch-pix2seq)
    conditional: bool = False  #: class one-hot c into the encoder head (eq. 3) and every decoder input

    # ---- influence layer (AI-Sketcher eq. 9-11)
    influence: bool = False
    influence_size: int = 512  #: n_a
    influence_beta: float = 0.1  #: beta of eq. 14, the weight of l_a in l_kl
    #: which encoder states h_enc_i the layer attends over: "forward" (the forward
    #: direction only, after reading points 1..i: causal, the default) or "both"
    #: (forward and backward halves, the paper's literal reading, which lets the
    #: decoder see the points it is asked to predict; see sketchlib.models.influence)
    influence_states: Literal["forward", "both"] = "forward"

    # ---- CNN autoencoder (AI-Sketcher, Fig. 1c)
    autoencoder: bool = False
    ae_raster_size: int = 128
    ae_channels: tuple[int, ...] = (4, 4, 8, 8, 8, 8)
    ae_strides: tuple[int, ...] = (2, 1, 2, 1, 2, 1)
    ae_z_size: int = 128  #: z_r
    ae_mode: Literal["separate", "joint"] = "separate"
    ae_loss_weight: float = 1.0

    # ---- decoder
    dec_rnn_size: int = 512
    dec_cell: Literal["lstm", "layer_norm"] = "layer_norm"
    num_mixture: int = 20  #: M
    recurrent_dropout_keep: float = 0.9  #: 1.0 switches recurrent dropout off
    #: Share of the decoder's previous-point inputs s_{j-1} replaced by zeros during training (Bowman et al.'s
    #: word dropout, not in Sketch-RNN). A decoder that sees every previous point can predict the next one
    #: without reading z, and then the latent stays at the KL floor and reconstructions come out generic;
    #: hiding some of its inputs makes z worth reading. 0 (the default) is the papers' model; try 0.2-0.5.
    decoder_input_dropout: float = 0.0

    # ---- loss (Sketch-RNN eq. 10-11, AI-Sketcher eq. 12-14)
    kl_weight: float = 0.5  #: w_KL (AI-Sketcher: alpha, annealed up to this value)
    kl_weight_start: float = 0.01
    kl_decay_rate: float = 0.99995
    kl_tolerance: float = 0.2  #: the KL floor epsilon

    # ---- schedules
    #: "magenta": the per-step rates ``kl_decay_rate`` and ``decay_rate`` as given
    #: (Magenta's 0.99995 and 0.9999, sized for runs of 100k+ steps: after 3,000
    #: steps the KL weight has climbed only 14% of the way). "budget": both rates
    #: are set from ``num_steps`` (see :meth:`schedule_rates`): the KL weight
    #: reaches 95% of its target after ``kl_anneal_fraction`` of the run, and the
    #: learning rate falls tenfold over the run (Magenta's rate takes 23k steps for that;
    #: decaying to the floor within a 5,000-step run stalled learning from mid-run).
    schedule: Literal["magenta", "budget"] = "magenta"
    kl_anneal_fraction: float = 0.4

    # ---- optimisation
    batch_size: int = 100
    learning_rate: float = 1e-3
    decay_rate: float = 0.9999
    min_learning_rate: float = 1e-5
    grad_clip: float = 1.0

    # ---- augmentation (training split only)
    random_scale_factor: float = 0.15
    augment_stroke_prob: float = 0.10

    # ---- the run
    num_steps: int = 10000
    eval_every: int = 500
    eval_batches: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        self.cnn_channels = tuple(self.cnn_channels)
        self.cnn_strides = tuple(self.cnn_strides)
        self.ae_channels = tuple(self.ae_channels)
        self.ae_strides = tuple(self.ae_strides)
        problems = []
        if self.influence and self.encoder != "rnn":
            problems.append("influence=True needs encoder='rnn' (it attends over the RNN encoder's states)")
        if self.influence_states not in ("forward", "both"):
            problems.append(f"influence_states={self.influence_states!r} must be 'forward' or 'both'")
        if len(self.cnn_channels) != len(self.cnn_strides):
            problems.append("cnn_channels and cnn_strides must have the same length")
        if self.pack and self.bucket:
            problems.append("pack=True and bucket=True: packed batches are the alternative to length buckets "
                            "(they keep Sketch-RNN's uniform random batches); set bucket=False with pack=True")
        if self.pack_full_every < 0:
            problems.append(f"pack_full_every={self.pack_full_every} must be 0 (never) or a number of steps")
        if self.pack_end_rows < 1:
            problems.append(f"pack_end_rows={self.pack_end_rows} must be at least 1 (the row that says 'ended')")
        if len(self.ae_channels) != len(self.ae_strides):
            problems.append("ae_channels and ae_strides must have the same length")
        if self.encoder == "cnn" and self.autoencoder and self.raster_size != self.ae_raster_size:
            problems.append("a CNN encoder with the autoencoder needs raster_size == ae_raster_size")
        if not 0.0 <= self.decoder_input_dropout < 1.0:
            problems.append(f"decoder_input_dropout={self.decoder_input_dropout} must be in [0, 1)")
        if not 0.0 < self.recurrent_dropout_keep <= 1.0:
            problems.append(f"recurrent_dropout_keep={self.recurrent_dropout_keep} must be in (0, 1]")
        if self.schedule not in ("magenta", "budget"):
            problems.append(f"schedule={self.schedule!r} must be 'magenta' or 'budget'")
        if not 0.0 < self.kl_anneal_fraction <= 1.0:
            problems.append(f"kl_anneal_fraction={self.kl_anneal_fraction} must be in (0, 1]")
        if self.num_classes < 1:
            problems.append("num_classes must be at least 1")
        if problems:
            raise ValueError(f"invalid SketchConfig '{self.name}': " + "; ".join(problems))

    # -- derived
    @property
    def has_latent(self) -> bool:
        return self.encoder != "none" or self.autoencoder

    @property
    def needs_raster(self) -> int | None:
        """The raster size batches must carry, or None."""
        if self.encoder == "cnn":
            return self.raster_size
        if self.autoencoder:
            return self.ae_raster_size
        return None

    def schedule_rates(self) -> tuple[float, float]:
        """``(kl_decay_rate, decay_rate)``: the per-step rates the schedules use.

        For ``schedule="budget"`` they follow from ``num_steps`` = N:
        ``kl_decay_rate^(f N) = 0.05`` (95% of the way to ``kl_weight`` after the
        fraction f = ``kl_anneal_fraction``) and ``decay_rate^N = 0.1`` (the gap
        between the learning rate and ``min_learning_rate`` shrinks tenfold by the end).
        """
        if self.schedule == "magenta":
            return self.kl_decay_rate, self.decay_rate
        n = max(int(self.num_steps), 1)
        return 0.05 ** (1.0 / max(self.kl_anneal_fraction * n, 1.0)), 0.1 ** (1.0 / n)

    def replace(self, **changes) -> "SketchConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "SketchConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown SketchConfig fields {unknown}; this checkpoint is from another version")
        d = dict(d)
        for key, before in _LEGACY_DEFAULTS.items():
            d.setdefault(key, before)  # written before the field existed: trained the old way
        if d.get("influence") and "influence_states" not in d:
            d["influence_states"] = "both"  # written before the field existed: the layer attended over both halves
        return cls(**d)


#: Fields added after checkpoints were shipped, with the value that describes how those were trained.
_LEGACY_DEFAULTS = {"bucket": False, "pack": False, "schedule": "magenta", "kl_anneal_fraction": 0.4}


def config_diff(a: SketchConfig, b: SketchConfig, ignore: tuple[str, ...] = ()) -> dict[str, tuple]:
    """Fields whose values differ: ``{field: (a_value, b_value)}``."""
    da, db = a.to_dict(), b.to_dict()
    return {k: (da[k], db[k]) for k in da if k not in ignore and da[k] != db[k]}


_SMALL = dict(
    enc_rnn_size=128,
    dec_rnn_size=256,
    z_size=64,
    batch_size=64,
    eval_every=250,
    num_steps=3000,
    # the -small presets are for runs of a few thousand steps on a CPU: size the schedules to
    # the run and batch by length (see the fields' comments; ``pack`` is the alternative)
    schedule="budget",
    bucket=True,
)

PRESETS: dict[str, dict] = {
    # Ha & Eck 2017 with Magenta's defaults; layer-norm LSTM decoder as in the paper's best models.
    "sketch_rnn": dict(),
    # Decoder only: no encoder, no latent, the initial state is zero (Ha & Eck section 3.4).
    "sketch_rnn_unconditional": dict(encoder="none", kl_weight=0.0, kl_weight_start=0.0),
    # Sketch-RNN + AI-Sketcher's class vector c (eq. 3): the first ablation baseline.
    "conditional_sketch_rnn": dict(conditional=True),
    # AI-Sketcher sizes (section "Experiments": enc 512, dec 2048, LN-LSTM both, z_s 256).
    "aisketcher_influence_only": dict(
        encoder="rnn", enc_rnn_size=512, enc_cell="layer_norm", dec_rnn_size=2048, z_size=256,
        conditional=True, influence=True, influence_size=512, kl_weight=1.0,
    ),
    "aisketcher_autoencoder_only": dict(
        encoder="rnn", enc_rnn_size=512, enc_cell="layer_norm", dec_rnn_size=2048, z_size=256,
        conditional=True, autoencoder=True, ae_z_size=128, kl_weight=1.0,
    ),
    "aisketcher": dict(
        encoder="rnn", enc_rnn_size=512, enc_cell="layer_norm", dec_rnn_size=2048, z_size=256,
        conditional=True, influence=True, influence_size=512, influence_beta=0.1,
        autoencoder=True, ae_z_size=128, kl_weight=1.0, kl_tolerance=0.2,
    ),
    # Chen et al. 2017: CNN encoder on 48x48 rasters, no KL term (z = mu), LSTM decoder.
    "sketch_pix2seq": dict(
        encoder="cnn", raster_size=48, variational=False, kl_weight=0.0, kl_weight_start=0.0,
        dec_cell="lstm",
    ),
    # CNN encoder on 64x64 rasters, variational latent of 512, LSTM decoder: the mixed-object model.
    "cnn_lstm_vae": dict(
        encoder="cnn", raster_size=64, cnn_channels=(16, 32, 64, 128), cnn_strides=(2, 2, 2, 2),
        cnn_kernel=3, z_size=512, variational=True, dec_cell="lstm",
    ),
}

_SMALL_OVERRIDES: dict[str, dict] = {
    "aisketcher_influence_only": dict(influence_size=128),
    "aisketcher_autoencoder_only": dict(ae_z_size=64),
    "aisketcher": dict(influence_size=128, ae_z_size=64),
    "cnn_lstm_vae": dict(z_size=128),
}

for _name in list(PRESETS):
    PRESETS[f"{_name}-small"] = {**PRESETS[_name], **_SMALL, **_SMALL_OVERRIDES.get(_name, {})}


def preset_names() -> list[str]:
    return sorted(PRESETS)


def preset(name: str, **overrides) -> SketchConfig:
    """The named preset's config, with ``overrides`` applied (``preset("aisketcher-small", num_classes=14)``)."""
    if name not in PRESETS:
        import difflib

        close = difflib.get_close_matches(name, PRESETS, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"unknown preset '{name}'{hint} Known presets: {', '.join(preset_names())}")
    return SketchConfig(**{"name": name, **PRESETS[name], **overrides})
