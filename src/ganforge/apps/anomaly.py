"""`ganforge anomaly`: a GAN-based anomaly detector fitted on normal data only, for images and tables.

Methods (the families do the training on the ONE loop; see their modules for the formulas):

- ``ganomaly`` (Akcay 2018, families/ganomaly.py): score = mean_k |G_E(x)_k - E(G(x))_k|, the
  L1 distance between the input's code and its reconstruction's code, over latent_dim.
- ``fanogan`` (Schlegl 2019, families/fanogan.py): score = izi_f = mean (x - G(E(x)))^2
  + kappa * mean (f(x) - f(G(E(x))))^2, f = the critic's penultimate features.

Higher scores are more anomalous. Every score is computed with all networks in eval mode
(BatchNorm uses the running statistics learned from the normal training data, never statistics
of the inputs being scored), in batches that never influence each other: an input gets the same
score whatever it is scored with.

Data: images (N, C, H, W), from an image folder, MNIST or arrays (uint8 0-255, or float already
in [-1, 1]), go through DCGAN-style nets; numeric tables (CSV files, 2-D arrays, data frames) go
through MLPs on columns standardised with the training split's mean and standard deviation.

Threshold: `fit` keeps a random `holdout` share of the normal data out of training and scores it.
For a false-positive rate alpha, with n held-out scores s_(1) <= ... <= s_(n) and k = floor(alpha
n), the threshold is s_(n-k) and an input is flagged when its score is above it, so at most a
share alpha of the held-out normal data is flagged. It needs k >= 1, i.e. n >= 1/alpha held-out
samples; fewer is an error rather than a threshold nobody can trust.

Heat maps (images): the residual |x - x'| averaged over channels, x' the method's reconstruction
(GANomaly: G(x); f-AnoGAN: G(E(x))), drawn with a fixed scale: the 99th percentile of the
held-out normal residuals is the brightest colour, so maps of different inputs compare.

Files: a fitted run directory holds the usual training run (config.toml, checkpoints/, samples/)
plus ``detector.pt`` (format ``ganforge-anomaly``): the config, both networks' live weights,
the input shape, column names and standardisation, the held-out scores and the map scale.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganforge.apps.detector_file import DETECTOR_FILE, DETECTOR_FORMAT, METHODS
from ganforge.config import Config, merge
from ganforge.data.dataset import InMemoryDataset
from ganforge.data.inputs import Inputs, as_inputs, fitted_columns, load_inputs
from ganforge.errors import GanforgeError
from ganforge.images import resize_images
from ganforge.presets import FANOGAN_SETTINGS, FANOGAN_TRAIN, GANOMALY_TRAIN
from ganforge.run import build_config

# (the data helpers and the file format's names re-exported: callers of the old names)
__all__ = ["DETECTOR_FILE", "DETECTOR_FORMAT", "METHODS", "AnomalyDetector", "Inputs"]
__all__ += ["as_inputs", "load_inputs", "threshold_at"]

MIN_TRAIN = 16  # normal samples left for training after the held-out split
MIN_HOLDOUT = 10
MAP_PERCENTILE = 99.0
SCORE_BATCH = 256

# Images start from the MNIST presets (only their nets and training settings are used).
IMAGE_PRESETS = {"ganomaly": "mnist-ganomaly", "fanogan": "mnist-fanogan"}

# Tables: MLPs on standardised columns (no BatchNorm anywhere), the presets' training settings.
_TABLE_COMMON = {"arch": "mlp", "latent_dim": 16, "g_width": 128, "d_width": 128, "mlp_layers": 2}
TABLE_OVERRIDES: dict[str, dict[str, dict[str, Any]]] = {
    "ganomaly": {
        "model": {"family": "ganomaly", **_TABLE_COMMON},
        "train": {**GANOMALY_TRAIN, "steps": 2000},
    },
    "fanogan": {
        "model": {"family": "fanogan", **_TABLE_COMMON, "d_norm": "none"},
        "train": {**FANOGAN_TRAIN},
        "fanogan": dict(FANOGAN_SETTINGS),
    },
}


# ---- the detector ----------------------------------------------------------------------------


def detector_config(
    method: str, inputs: Inputs, steps: int | None = None, overrides: dict | None = None
) -> Config:
    """The training config for a method on these inputs (presets for images, MLPs for tables)."""
    if method not in METHODS:
        raise GanforgeError(f"unknown anomaly method {method!r}", fix=f"use {' or '.join(METHODS)}")
    if inputs.kind == "image":
        c, h = inputs.sample_shape[0], inputs.sample_shape[-1]
        data = {"data": {"source": inputs.source, "resolution": h, "channels": c}}
        config, _ = build_config(preset=IMAGE_PRESETS[method], overrides=data)
    else:
        config, _ = build_config(base=merge(Config(), TABLE_OVERRIDES[method]))
        config.data.source = inputs.source
    if steps is not None:
        t = config.train
        if method == "fanogan":  # keep the preset's share of WGAN steps
            f = config.family_settings("fanogan")
            f.gan_steps = max(1, round(steps * f.gan_steps / t.steps))
        t.steps = steps
    if overrides:
        config = merge(config, overrides)
    # Nothing to pick a best checkpoint by, and scoring uses the live networks, not an EMA.
    config.train.ema = 0.0
    return config


def threshold_at(holdout_scores: np.ndarray, fpr: float) -> float:
    """The score above which at most a share `fpr` of the held-out normal scores lie."""
    if not 0.0 < fpr < 1.0:
        raise GanforgeError(f"--fpr must be in (0, 1), got {fpr!r}")
    scores = np.sort(np.asarray(holdout_scores, dtype=np.float64))
    n = len(scores)
    k = math.floor(fpr * n + 1e-9)
    if k < 1:
        raise GanforgeError(
            f"too little held-out normal data for --fpr {fpr:g}: {n} held-out samples",
            fix=f"fit on more normal data (at least {math.ceil(1 / fpr)} held out), "
            "a larger --holdout, or a larger --fpr",
        )
    return float(scores[n - 1 - k])


class AnomalyDetector:
    """Fit on normal data only, then score new data (higher = more anomalous), scikit-learn style.

    ``AnomalyDetector("ganomaly").fit(x).score(x_new)``; `predict` flags inputs above the
    threshold calibrated at `fpr` on held-out normal data; `residual_maps` explains image scores.
    """

    def __init__(
        self,
        method: str = "ganomaly",
        steps: int | None = None,
        *,
        holdout: float = 0.2,
        fpr: float = 0.05,
        seed: int = 0,
        resolution: int | None = None,
        batch_size: int | None = None,
        device: str = "cpu",
        overrides: dict | None = None,
        quiet: bool = True,
    ):
        if method not in METHODS:
            raise GanforgeError(
                f"unknown anomaly method {method!r}", fix=f"use {' or '.join(METHODS)}"
            )
        if not 0.0 < holdout < 1.0:
            raise GanforgeError(f"--holdout must be in (0, 1), got {holdout!r}")
        if not 0.0 < fpr < 1.0:
            raise GanforgeError(f"--fpr must be in (0, 1), got {fpr!r}")
        self.method, self.steps, self.holdout, self.fpr = method, steps, holdout, fpr
        self.seed, self.resolution, self.batch_size = seed, resolution, batch_size
        self.device, self.overrides, self.quiet = device, overrides, quiet
        self.config_: Config | None = None

    # ---- fitting -----------------------------------------------------------------------------
    def fit(self, x: Any, run_dir: str | Path | None = None) -> AnomalyDetector:
        """Train on normal data `x`; with `run_dir` the training run and detector.pt go there."""
        inputs = as_inputs(x)
        self.kind_, self.input_shape_ = inputs.kind, inputs.sample_shape
        data = self._resize(inputs.data) if inputs.kind == "image" else inputs.data
        train, held = self._split(len(data))
        self.columns_ = inputs.columns
        if inputs.kind == "table":
            self.mean_ = data[train].mean(0)
            std = data[train].std(0, correction=0)
            self.std_ = torch.where(std > 0, std, torch.ones_like(std))  # constant columns
            data = (data - self.mean_) / self.std_
        else:
            self.mean_ = self.std_ = None
        data = data.float()
        overrides = dict(self.overrides or {})
        overrides.setdefault("train", {})
        overrides["train"] = {"seed": self.seed, "device": self.device, **overrides["train"]}
        if self.batch_size:
            overrides["train"]["batch_size"] = self.batch_size
        config = detector_config(
            self.method, Inputs(data, inputs.kind, [], None, inputs.source), self.steps, overrides
        )
        dataset = InMemoryDataset(data[train], name=inputs.source)
        G, D = self._train(config, dataset, run_dir)
        self._use_networks(config, G, D)
        scores, recs = self._score_model_space(data[held])
        self.holdout_scores_ = np.sort(scores.numpy().astype(np.float64))
        self.map_scale_ = None
        if inputs.kind == "image":
            residual = (data[held] - recs).abs().mean(1)
            self.map_scale_ = max(float(np.percentile(residual.numpy(), MAP_PERCENTILE)), 1e-6)
        self.run_dir_ = Path(run_dir) if run_dir else None
        if self.run_dir_:
            self.save(self.run_dir_ / DETECTOR_FILE)
        return self

    def _resize(self, images: torch.Tensor) -> torch.Tensor:
        """At fit: bring images to the model resolution: `resolution`, else the input's own if
        DCGAN can use it (4*2^k or 7*2^k), else 32."""
        from ganforge.nets.layers import base_size

        h, w = images.shape[-2:]
        target = self.resolution
        if target is None:
            try:
                base_size(h)
                target = h if h == w else 32
            except ValueError:
                target = 32
        self.resolution_ = target
        return resize_images(images, target)

    def _split(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Random (train, held-out) indices; refuse when either part is too small."""
        n_held = round(self.holdout * n)
        need = max(MIN_HOLDOUT, math.ceil(1 / self.fpr - 1e-9))
        if n_held < need or n - n_held < MIN_TRAIN:
            need_total = max(math.ceil(need / self.holdout), need + MIN_TRAIN)
            raise GanforgeError(
                f"too little normal data: {n} samples give {n_held} held out for the threshold "
                f"at --fpr {self.fpr:g} (need {need}) and {n - n_held} for training "
                f"(need {MIN_TRAIN})",
                fix=f"fit on at least {need_total} normal samples, or raise --holdout / --fpr",
            )
        perm = torch.from_numpy(np.random.default_rng(self.seed).permutation(n))
        return perm[n_held:], perm[:n_held]

    def _train(self, config: Config, dataset: InMemoryDataset, run_dir: str | Path | None):
        """Train on the ONE loop; returns the live (generator, discriminator) state dicts."""
        from ganforge.run import place_run, train_in_memory, train_run

        if run_dir is None:
            trainer = train_in_memory(config, dataset)
            return trainer.generator.state_dict(), trainer.discriminator.state_dict()
        import shutil

        from ganforge.training.checkpoint import FORMAT, load_file
        from ganforge.training.loop import TrainingInterrupted

        run_dir = Path(run_dir)
        place_run(config, run_dir=str(run_dir))
        if (run_dir / DETECTOR_FILE).exists():
            raise GanforgeError(
                "the run directory already holds a detector",
                str(run_dir),
                "choose another --run-dir (or --name)",
            )
        existed = run_dir.exists()
        try:
            run_dir = train_run(config, quiet=self.quiet, dataset=dataset).run_dir
        except TrainingInterrupted as e:  # `anomaly fit` cannot resume: say what is left
            if not existed:  # everything in it is this fit's: keeping it would block a rerun
                shutil.rmtree(run_dir, ignore_errors=True)
            again = "nothing was kept: fit again" if not existed else "fit again into a new run"
            raise GanforgeError(
                f"interrupted at step {e.step} (anomaly fit does not resume)",
                str(run_dir),
                again,
                exit_code=130,
            ) from None
        state = load_file(run_dir / "checkpoints" / "last.pt", (FORMAT,))
        return state["generator"], state["discriminator"]

    def _use_networks(self, config: Config, g_state: dict, d_state: dict) -> None:
        from ganforge.families import make_family

        self.config_ = config
        self.family_ = make_family(config)
        G, D = self.family_.build()
        G.load_state_dict(g_state)
        D.load_state_dict(d_state)
        device = torch.device(self.device)
        # Eval mode for good: BatchNorm must never learn statistics from the data being scored.
        self.generator_, self.discriminator_ = G.to(device).eval(), D.to(device).eval()

    # ---- scoring -----------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if self.config_ is None:
            raise GanforgeError("the detector is not fitted", fix="call fit(normal_data) first")

    def _to_model_space(self, x: Any) -> torch.Tensor:
        """Inputs as the networks saw the training data, after checking they match the fit."""
        self._check_fitted()
        inputs = as_inputs(x)
        if inputs.kind != self.kind_:
            raise GanforgeError(
                f"the detector was fitted on {self.kind_}s, the input holds {inputs.kind}s",
                inputs.source,
            )
        if inputs.kind == "table":
            return self._table_to_model(inputs)
        model_shape = tuple(self.config_.model.sample_shape)
        if inputs.sample_shape not in (tuple(self.input_shape_), model_shape):
            raise GanforgeError(
                f"images of shape {inputs.sample_shape}, the detector was fitted on "
                f"{tuple(self.input_shape_)}",
                inputs.source,
                "score images of the fitted shape",
            )
        return resize_images(inputs.data, model_shape[-1]).float()

    def _table_to_model(self, inputs: Inputs) -> torch.Tensor:
        """Same columns as the fit (by name, any order; unnamed arrays by position), standardised."""
        data = fitted_columns(inputs, list(self.columns_))
        return ((data - self.mean_) / self.std_).float()

    @torch.no_grad()
    def _score_model_space(self, data: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        device = next(self.generator_.parameters()).device
        self.generator_.eval()
        self.discriminator_.eval()
        scores, recs = [], []
        for start in range(0, len(data), SCORE_BATCH):
            batch = data[start : start + SCORE_BATCH].to(device)
            s, r = self.family_.anomaly_score(self.generator_, self.discriminator_, batch)
            scores.append(s.float().cpu())
            recs.append(r.float().cpu())
        if not scores:
            return torch.zeros(0), torch.zeros(0, *data.shape[1:])
        return torch.cat(scores), torch.cat(recs)

    def score(self, x: Any) -> np.ndarray:
        """Anomaly scores, one per sample (higher = more anomalous); see the module docstring."""
        return self._score_model_space(self._to_model_space(x))[0].numpy().astype(np.float64)

    def threshold(self, fpr: float | None = None) -> float:
        """The score threshold at false-positive rate `fpr` (default: the detector's)."""
        self._check_fitted()
        return threshold_at(self.holdout_scores_, self.fpr if fpr is None else fpr)

    def predict(self, x: Any, fpr: float | None = None) -> np.ndarray:
        """True where the score is above the threshold at `fpr` (an anomaly)."""
        threshold = self.threshold(fpr)
        return self.score(x) > threshold

    def score_and_maps(self, x: Any) -> tuple[np.ndarray, torch.Tensor, torch.Tensor]:
        """(scores, images in [-1, 1] as scored, residual maps (N, H, W)); images only."""
        data = self._to_model_space(x)
        if self.kind_ != "image":
            raise GanforgeError("heat maps are for images; this detector was fitted on a table")
        scores, recs = self._score_model_space(data)
        return scores.numpy().astype(np.float64), data, (data - recs).abs().mean(1)

    def residual_maps(self, x: Any) -> np.ndarray:
        """|x - x'| averaged over channels, (N, H, W), x' the method's reconstruction."""
        return self.score_and_maps(x)[2].numpy()

    # ---- files (apps/detector_file.py) --------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the fitted detector (weights, config, calibration) to one torch file."""
        from ganforge.apps.detector_file import save_detector

        self._check_fitted()
        return save_detector(self, path)

    def save_pretrained(self, folder: str | Path) -> Path:
        """Write the fitted detector as a pretrained folder: config.json (config, calibration,
        columns as plain JSON) + model.safetensors (both networks, the standardisation)."""
        from ganforge.apps.detector_file import save_detector_folder

        self._check_fitted()
        return save_detector_folder(self, folder)

    @classmethod
    def from_pretrained(cls, folder: str | Path, device: str = "cpu") -> AnomalyDetector:
        """A detector from a pretrained folder (or, as `load`, a run directory or file)."""
        return cls.load(folder, device)

    @classmethod
    def load(cls, run_or_file: str | Path, device: str = "cpu") -> AnomalyDetector:
        """A detector saved by `fit(run_dir=...)` or `save`: a run directory or detector file."""
        from ganforge.apps.detector_file import load_detector

        return load_detector(cls, run_or_file, device)
