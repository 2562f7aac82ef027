"""`TimeSeriesGAN`: synthetic multivariate sequences on the one trainer (families/series.py).

    model = TimeSeriesGAN(epochs=50).fit(
        frame, seq_len=24, sequence_key="id", time_column="date", discrete=["state"]
    )
    synthetic = model.sample(1000, conditions={"region": "north"}, seed=0)
    model.save("model.gfs"); model = TimeSeriesGAN.load("model.gfs")

`sample` returns the long format: sequence_id, step, then the input's columns (the key column
aside) in their order and dtypes; `conditions` fix discrete static attributes (columns constant
within each entity). The .gfs file is a torch file loadable with weights_only=True: a format name
and version, the config, the encoder's metadata (ganforge.series.data.SeriesEncoder: column
types, levels, ranges) as plain types and the generator's weights. It holds no training rows
(category levels and the ranges of values aside).
"""

from __future__ import annotations

import math
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ganforge.config import Config
from ganforge.errors import GanforgeError
from ganforge.families.series import SeriesFamily
from ganforge.series.data import HIDDEN, SeriesEncoder
from ganforge.training.checkpoint import read_torch_file

FORMAT = "ganforge-series"
FORMAT_VERSION = 2


class TimeSeriesGAN:
    """Synthetic sequences: an attribute MLP (DoppelGANger's attribute generator: static columns
    and sequence lengths) feeding a step generator, against a discriminator of whole sequences.

    `arch="mlp"` (the default): G is an MLP that writes the whole window at once from the sequence's
    noise and attributes, D an MLP that reads it whole, plain non-saturating loss, Adam (2e-4, betas
    0.5 / 0.99), batch 128, samples from an EMA (0.999) of G's weights, 325 passes over the
    windows within 6,000-20,000 steps (default_steps: stocks 9,425, sines 20,000). Chosen by
    measurement against the GRU recipe below (benchmarks/series.py, the TimeGAN protocol, 5 post-hoc
    fits, one thread, 2026-12-02): sines (10,000 windows) discriminative 0.007 +- 0.002 / predictive
    0.0931 (real 0.0928; GRU recipe 0.223 +- 0.014 over 3 fits at its default length); stocks (3,661
    windows) 0.116 +- 0.056 / 0.0374 (real 0.0366; GRU recipe 0.093 +- 0.023 / 0.0467: the MLP's
    gain there is the predictive score). The EMA is what makes it work: the live G oscillates (its
    own discriminative score 0.46-0.50 at the end on stocks while the average's was 0.003-0.07), and
    quality still improves between 10,000 and 20,000 steps (stocks, seed 1: 0.11 at 12,000, 0.061 at
    16,000, 0.049 at 20,000). Screened on stocks and dropped (seed 1, 2 post-hoc fits): EMA 0.9995
    (0.062 at 20,000), lr 4e-4 (0.060 at 14,000 vs 0.11 at 12,000), batch 256 with lr 4e-4 (0.143 at
    14,000), a linear lr decay over the second half (seed 0: 0.145 at 20,000 vs 0.002 without).
    TimeGAN's supervised and moment losses are off for this arch (weights 0); a window written at
    once needs no next-step teacher. Columns whose step changes look white (prices) walk: G writes
    a first value then the changes, in data space in units of the real changes' std (in logit
    space the sigmoid saturated on stocks seed 1 and D won for good: 0.493); walking and
    mean-reverting columns get per-step noise of a learned scale (ganforge.series.data.WALK_LAG1
    and innovation_scales): on stocks the plain
    recipe drew prices as a smooth path plus white jitter and Volume 6x too smooth (screening, 3
    post-hoc fits, 20,000 steps: 0.074 / 0.116 on seeds 2 / 0 with walking alone, 0.024 / 0.020
    with the noise too; README, "Why walking channels").

    `arch="gru"`: a GRU generator (half its noise per sequence, half per step) and a GRU
    discriminator (a logit per step), with TimeGAN's supervised next-step loss (a supervisor
    trained with D on real windows, continuous channels only: on one-hots it pulled level shares
    0.14 off in 60 steps) and moment loss (per step and pooled: pooled only, G collapsed on sines,
    per-step std 0.023 vs real 0.108), 50 epochs, lr 1e-3. Without the two losses its per-feature
    mean stayed 0.26 off on sines after 240 steps, with them 0.007. It learns step-to-step
    smoothness in far fewer steps (tests: 60 steps vs 800 for the MLP), but its quality plateaus
    (sines 0.223 +- 0.014, stocks 0.093 +- 0.023 discriminative over 3 fits; screened without
    gain: step_noise 0, last-state or bidirectional D, minibatch-std D, supervised weight 10 /
    300, lr 2e-3, batch 64, EMA 0.99, lr decay).

    Both start their output layer at the data's marginals (a bias of each channel's logit / log
    share: on a mixed table a uniform start left a 0.7 share 0.11-0.16 off after 60-150 steps).
    """

    def __init__(
        self,
        epochs: int | None = None,
        batch_size: int = 128,
        latent_dim: int | None = None,
        hidden: int | None = None,
        layers: int = 2,
        lr_g: float | None = None,
        lr_d: float | None = None,
        supervised_weight: float | None = None,
        moment_weight: float | None = None,
        step_noise: float = 1.0,
        arch: str = "mlp",
        beta2: float | None = None,
        ema: float | None = None,
        lr_decay_start: float = 1.0,
        max_steps: int = 0,
        max_minutes: float = 0.0,
        device: str = "cpu",
        seed: int = 0,
        verbose: bool = True,
        quiet: bool = False,
    ):
        if arch not in ARCH_DEFAULTS:
            raise GanforgeError(f"unknown series arch {arch!r}", fix="use mlp or gru")
        given = {k: v for k, v in locals().items() if k not in ("self", "arch")}
        self.settings = {"arch": arch, **given}
        for key, value in ARCH_DEFAULTS[arch].items():  # None: the arch's own default
            if self.settings.get(key) is None:
                self.settings[key] = value
        self.seed, self.device, self.verbose, self.quiet = seed, device, verbose, quiet
        self.config: Config | None = None
        self.meta: dict | None = None
        self.generator: torch.nn.Module | None = None
        self.encoder: SeriesEncoder | None = None
        self.notes: list[str] = []
        self.decisions: list[str] = []
        self.warn_notes = True  # the data notes (gaps filled, sequences skipped) as warnings
        self.timings: dict[str, float] = {}
        self.summary: dict = {}
        self.callbacks: list = []  # extra training callbacks (ganforge.training.callbacks.Callback)
        self._family: SeriesFamily | None = None

    def _config(self, n_windows: int) -> Config:
        s = self.settings
        if (s["epochs"] is not None and s["epochs"] < 1) or s["batch_size"] < 1:
            raise GanforgeError("epochs and batch_size must be positive")
        per_epoch = max(1, math.ceil(n_windows / s["batch_size"]))
        if s["epochs"] is None:  # mlp: default_steps, bounded passes over the windows
            steps = default_steps(n_windows, s["batch_size"])
        else:
            steps = s["epochs"] * per_epoch
        if s["max_steps"] > 0:
            steps = min(steps, s["max_steps"])
        from ganforge.run import build_config  # the one config builder (defaults < these)

        config, _ = build_config(
            base=Config(),
            overrides={
                "data": {"source": "series"},
                "model": {
                    "family": "series",
                    "arch": s["arch"],
                    "latent_dim": s["latent_dim"],
                    "g_width": s["hidden"],
                    "d_width": s["hidden"],
                    "mlp_layers": s["layers"],
                },
                "train": {
                    "steps": steps,
                    "batch_size": s["batch_size"],
                    "loss": "nonsaturating",
                    "n_critic": 1,
                    "lr_g": s["lr_g"],
                    "lr_d": s["lr_d"],
                    "beta1": 0.5,
                    "beta2": s["beta2"],
                    "gp_weight": 0.0,
                    "ema": s["ema"],
                    "lr_decay_start": s["lr_decay_start"],
                    "seed": int(self.seed),
                    "device": self.device,
                    "precision": "fp32",
                    "max_minutes": s["max_minutes"],
                    "log_every": max(1, steps // 50),
                    "sample_every": 0,
                    "checkpoint_every": max(1, steps // 10),
                    "tensorboard": False,
                    # Samples come from the EMA, whose quality does not follow the live pair's
                    # signals: stocks seed 1 was stopped as "diverged" (D right on 99.8% for
                    # 1,015 steps, 3 rollbacks) where the EMA scored 0.006-0.025, and the live
                    # G's diversity dips warned "possible mode collapse" 6 times in 1,000
                    # steps. NaN rollbacks and the end-of-fit constant-output check stay.
                    **({"divergence_window": 0, "collapse_ratio": 0.0} if s["ema"] else {}),
                },
            },
        )
        return config

    def fit(
        self,
        data: pd.DataFrame,
        seq_len: int = 24,
        sequence_key: str | None = None,
        run_dir: str | Path | None = None,
        resume: bool = False,
        source: str | None = None,
        time_column: str | None = None,
        discrete: list[str] | None = None,
    ) -> TimeSeriesGAN:
        """Learn the sequences of a long table (see ganforge.series.data for the columns).

        `sequence_key`: the column naming each entity (None: one long series); `time_column`:
        dates or numbers, one per step; `discrete`: columns to learn as categories (text is
        discrete anyway); `run_dir`: keep checkpoints there (and `resume` from its last one);
        `source`: where the table came from (named in errors). `decisions` and `notes` say how
        each column is modelled and what was changed (rows sorted, rare levels grouped).
        """
        from ganforge.data.dataset import InMemoryDataset

        t0 = time.perf_counter()
        encoder = SeriesEncoder(seed=int(self.seed))
        with warnings.catch_warnings(record=True):  # the notes say it (below, or printed)
            warnings.simplefilter("always")
            windows, notes = encoder.fit(
                data, seq_len, sequence_key, time_column, discrete, where=source
            )
        config = self._config(len(windows))
        s = self.settings
        if s["arch"] == "mlp" and s["epochs"] is not None and config.train.steps < 2000:
            notes.append(
                f"{s['epochs']} epochs are {config.train.steps} steps: short for the mlp model, "
                f"which needs thousands (its default is {DEFAULT_EPOCHS} epochs, "
                f"{STEP_BOUNDS[0]:,}-{STEP_BOUNDS[1]:,} steps: leave --epochs out)"
            )
        self.notes, self.decisions = notes, encoder.meta["decisions"]
        if self.warn_notes:
            for note in notes:
                warnings.warn(note, stacklevel=2)
        if run_dir is not None:
            from ganforge.run import place_run

            place_run(config, run_dir=str(run_dir))
        if not resume and run_dir is not None:
            if (Path(run_dir) / "checkpoints" / "last.pt").exists():
                raise GanforgeError(
                    "the run directory already holds a fit",
                    str(run_dir),
                    "pass --resume to continue it, or choose another --run-dir",
                )
        layout = encoder.meta["layout"]
        family = SeriesFamily(
            config, s["supervised_weight"], s["moment_weight"], layout, s["step_noise"]
        )
        dataset = InMemoryDataset(torch.from_numpy(windows), name="series")
        self.timings["preprocess_s"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        trainer = self._train(config, dataset, family, run_dir, resume)
        self.timings["train_s"] = time.perf_counter() - t1
        self.timings["fit_s"] = time.perf_counter() - t0
        self.config, self.encoder, self._family = config, encoder, family
        self.meta = encoder.meta
        self.generator = trainer.sampling_generator.eval()
        self.summary = trainer.summary
        return self

    def _train(self, config, dataset, family, run_dir, resume: bool):
        """Train on the run layer (run.train_model): the fitted Trainer."""
        from ganforge.run import train_model

        return train_model(
            config,
            dataset,
            family,
            run_dir,
            resume,
            "ganforge series fit",
            self.quiet,
            self.verbose,
            self.callbacks,
        )

    # ---- sampling ----------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if self.generator is None:
            raise GanforgeError("the model is not fitted", fix="call fit() or TimeSeriesGAN.load()")

    @torch.no_grad()
    def sample_windows(
        self, n: int, seed: int = 0, conditions: dict[str, Any] | None = None
    ) -> np.ndarray:
        """n model arrays (n, seq_len, F + 1 + A): per-step block, mask, attributes."""
        self._check_fitted()
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise GanforgeError(f"the number of sequences must be a positive integer, got {n!r}")
        wanted = self._parse_conditions(conditions or {})
        device = next(self.generator.parameters()).device
        gen = torch.Generator(device).manual_seed(int(seed))
        chunks, left = [], int(n)
        while left:
            k = min(left, 4096)
            z = self._family.sample_latent(k, device, gen)
            attributes = self.generator.attributes(z, gen)
            if wanted:
                attributes = self._conditioned(attributes, wanted, z, gen, seed)
            chunks.append(self.generator.steps_given(attributes, z, gen).cpu())
            left -= k
        return torch.cat(chunks).numpy()

    def _parse_conditions(self, conditions: dict[str, Any]) -> list[tuple[int, int, int]]:
        """[(start of the attribute's one-hot in the attributes, its width, the level's slot)]."""
        static = self.encoder.static
        names = [] if static is None else [c.name for c in static.columns if c.name not in HIDDEN]
        out = []
        for name, value in conditions.items():
            if name not in names:
                per_step = name in self.meta["order"]
                raise GanforgeError(
                    f"condition on {name!r}: "
                    + (
                        "it changes within sequences; conditions work on static attributes"
                        if per_step
                        else "no such column"
                    ),
                    fix="static attributes are: " + (", ".join(names) or "none in this model"),
                )
            start = 0
            for c in static.columns:
                if c.name == name:
                    break
                start += c.width
            if c.kind != "discrete":
                raise GanforgeError(
                    f"condition on {name!r}: conditions work on discrete attributes only",
                    fix=f"fit with --discrete {name} to condition on it",
                )
            levels = c.levels
            match = [i for i, lv in enumerate(levels) if _same_level(lv, value)]
            if not match:
                shown = ", ".join(str(lv) for lv in levels[:12]) + (
                    " ..." if len(levels) > 12 else ""
                )
                raise GanforgeError(
                    f"condition {name}={value}: no such value in {name!r}",
                    fix=f"values are: {shown}",
                )
            out.append((start, c.width, match[0]))
        return out

    def _conditioned(self, attributes, wanted, z, gen, seed) -> torch.Tensor:
        """Attributes that hold every condition: drawn ones that hold them (rejection, so the
        other attributes follow their joint distribution), the rest set to the levels."""
        n = len(attributes)

        def holds(a):
            ok = torch.ones(len(a), dtype=torch.bool, device=a.device)
            for start, width, slot in wanted:
                ok &= a[:, start : start + width].argmax(1) == slot
            return ok

        kept = [attributes[holds(attributes)]]
        have = len(kept[0])
        for _ in range(50):
            if have >= n:
                break
            more = self.generator.attributes(self._family.sample_latent(4 * n, z.device, gen), gen)
            kept.append(more[holds(more)])
            have += len(kept[-1])
        out = torch.cat(kept)[:n]
        if len(out) < n:  # rare levels: the missing ones set by hand
            extra = attributes[: n - len(out)].clone()
            for start, width, slot in wanted:
                extra[:, start : start + width] = 0
                extra[:, start + slot] = 1
            out = torch.cat([out, extra])
        return out

    def sample(
        self, n: int, conditions: dict[str, Any] | None = None, seed: int = 0
    ) -> pd.DataFrame:
        """n synthetic sequences in long format: sequence_id, step, then the input's columns;
        `conditions` {static attribute: level} hold in every sequence."""
        return self.encoder.decode(self.sample_windows(n, seed, conditions), seed=seed)

    # ---- persistence -------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the .gfs model file atomically."""
        from ganforge import __version__
        from ganforge.training.checkpoint import atomic_save

        self._check_fitted()
        state = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "ganforge_version": __version__,
            "config": self.config.to_dict(),
            "encoder": self.encoder.to_dict(),
            "generator": {k: v.cpu() for k, v in self.generator.state_dict().items()},
            "timings": dict(self.timings),
            "step_noise": float(self._family.step_noise),
        }
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_save(state, path)
        except OSError as e:
            raise GanforgeError(f"cannot write the model file ({e.strerror})", str(path)) from None
        return path

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu") -> TimeSeriesGAN:
        """Read a .gfs file written by save(); another kind of file is one clear line."""
        from ganforge.training.checkpoint import KINDS, check_structure

        path = Path(path)
        fix = "give a .gfs written by `ganforge series fit`"
        state = read_torch_file(path, "a ganforge series model", fix)
        found = state.get("format") if isinstance(state, dict) else None
        if found != FORMAT:
            kind = KINDS.get(found) if isinstance(found, str) else None
            what = f"{kind}, not a ganforge series model" if kind else "not a ganforge series model"
            raise GanforgeError(what, str(path), fix)
        if state.get("format_version") != FORMAT_VERSION:
            raise GanforgeError(
                f"series model format version {state.get('format_version')}; this ganforge "
                f"reads version {FORMAT_VERSION}",
                str(path),
                "refit the model with this version of ganforge",
            )
        check_structure(state, _REQUIRED, path, "a ganforge series model")
        config = Config.from_dict(state["config"], str(path))
        model = cls(device=device, verbose=False)
        model.config = config
        try:
            model.encoder = SeriesEncoder.from_dict(state["encoder"])
            model.meta = model.encoder.meta
            step_noise = float(state.get("step_noise", 1.0))  # files before it: 1.0
            family = SeriesFamily(config, layout=model.meta["layout"], step_noise=step_noise)
            generator, _ = family.build()
            generator.load_state_dict(state["generator"])
        except (RuntimeError, KeyError, TypeError, ValueError) as e:
            raise GanforgeError(
                f"damaged ganforge series model ({type(e).__name__}: {str(e).splitlines()[0][:80]})",
                str(path),
                "refit the model with `ganforge series fit`",
            ) from None
        from ganforge.training.loop import resolve_device

        model.generator = generator.to(resolve_device(device)).eval()
        model._family = family
        model.timings = dict(state.get("timings") or {})
        return model


_REQUIRED = {"config": dict, "encoder": dict, "generator": dict}

# Each architecture's recipe (TimeSeriesGAN's None settings): the mlp one chosen by measurement
# (see TimeSeriesGAN's docstring), the gru one as tuned before it (50 epochs).
# The mlp arch's default length: DEFAULT_EPOCHS passes over the windows, at least and at most
# STEP_BOUNDS steps (benchmarks/series_steps.py: stocks' 3,661 windows scored 0.005-0.023 at
# 6,000 steps on 3 seeds, while sines' 10,000 scored 0.31 at 6,000 and 0.21 at 10,000 steps:
# more varied windows need more steps, so the length follows the data's size). With the
# data-space walk (2026-12-02, Xeon), stocks seeds 1 / 0 / 2 scored 0.055 / 0.039 / 0.019 at
# 250 passes (7,250 steps), 0.015 / 0.024 / 0.024 at 9,500 and 0.005 / 0.009 / 0.029 at 400
# passes (11,600), 0.032 / 0.040 / 0.024 at 14,000. 400 passes took 163 s beside DGAN's 422 s
# (0.39 of it: 228 of 400 epochs in 241 s, same machine and load), over the goal's third, so
# 325 passes (9,425 steps; the 9,500 snapshot: 0.015 / 0.024 / 0.024); sines keep 20,000.
DEFAULT_EPOCHS = 325
STEP_BOUNDS = (6_000, 20_000)


def default_steps(n_windows: int, batch_size: int) -> int:
    """The mlp arch's default number of steps for `n_windows` windows (see DEFAULT_EPOCHS)."""
    per_epoch = max(1, math.ceil(n_windows / batch_size))
    return min(STEP_BOUNDS[1], max(STEP_BOUNDS[0], DEFAULT_EPOCHS * per_epoch))


ARCH_DEFAULTS: dict[str, dict[str, Any]] = {
    "mlp": {
        "epochs": None, "latent_dim": 32, "hidden": 256, "lr_g": 2e-4,
        "lr_d": 2e-4, "beta2": 0.99, "ema": 0.999, "supervised_weight": 0.0, "moment_weight": 0.0,
    },
    "gru": {
        "epochs": 50, "latent_dim": 16, "hidden": 48, "lr_g": 1e-3, "lr_d": 1e-3,
        "beta2": 0.9, "ema": 0.0, "supervised_weight": 100.0, "moment_weight": 10.0,
    },
}  # fmt: skip


def _same_level(level: Any, value: Any) -> bool:
    """Whether a user's value names a level (text from --where matches numbers and booleans)."""
    if level is None:
        return value is None or str(value).strip().lower() in ("", "nan", "na", "null", "none")
    if isinstance(level, bool) or isinstance(value, bool):
        return str(level).lower() == str(value).strip().lower()
    if isinstance(level, (int, float)):
        try:
            return float(level) == float(value)
        except (TypeError, ValueError):
            return False
    return str(level) == str(value).strip() if isinstance(value, str) else level == value
