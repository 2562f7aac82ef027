"""`TabularGAN`: a conditional tabular GAN with a scikit-learn/CTGAN-style API, on the one trainer.

    model = TabularGAN(epochs=300).fit(frame, discrete_columns=["sex", "income"])
    synthetic = model.sample(10_000, conditions={"income": ">50K"})
    model.save("model.gft"); model = TabularGAN.load("model.gft")

The .gft file is a torch file loadable with weights_only=True: a format name and version, the
transformer's metadata as plain types, the level frequencies conditions are drawn from, the
generator's weights and, for DP fits, the privacy spent. It holds no training rows, seed or RNG
state.
"""

from __future__ import annotations

import math
import secrets
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ganforge.config import Config
from ganforge.errors import GanforgeError
from ganforge.families.tabular import SpanActivation, TabularFamily
from ganforge.tabular.sampler import ConditionSampler, TableDataset
from ganforge.tabular.transformer import TableTransformer, level_key, plain_value
from ganforge.training.checkpoint import read_torch_file

FORMAT = "ganforge-tabular"
FORMAT_VERSION = 2  # 2: blocks grouped within 1.5x widths (G head and D input sizes changed)
CHUNK_ROWS = 20000  # rows generated and decoded at a time by sample_chunks (bounded memory)
# the settings left None take these; with an epsilon, DP_DEFAULTS over them
DEFAULTS = {"batch_size": 1000, "lr_g": 4e-4, "lr_d": 4e-4, "max_grad_norm": 1.0}
# DP fits: the critic's lr 1e-3 (G's stays 4e-4). Screened on Adult at epsilon 3, 50 epochs,
# one fit each (quality / F1; non-DP defaults 0.888 / 0.565): critic lr 1e-3 0.935 / 0.603,
# 2e-3 0.931 / 0.562; batch 2000 0.914 / 0.574, 4000 0.890 / 0.544 (with lr 1e-3 for both:
# 0.907 / 0.489; batch 8000 0.858 / 0.455); clip 0.3 0.899 / 0.546; G and D lr 2e-4 0.908 /
# 0.566; width 64 0.914 / 0.527; 25 epochs (less noise per step) 0.891 / 0.577; on top of the
# critic's 1e-3: batch 2000 0.906 / 0.569, G lr 2e-4 0.924 / 0.542, clip 0.3 0.910 / 0.565.
# Seed 1: critic lr 1e-3 0.937 / 0.575, the old defaults 0.920 / 0.513 (the figures:
# benchmarks/results/tabular_adult_dp_screen_e3.json).
DP_DEFAULTS = {"lr_d": 1e-3}


class TabularGAN:
    """Conditional tabular GAN (CTGAN, Xu et al. 2019) with optional DP-SGD on the critic.

    Follows CTGAN (300 epochs, noise 128, two residual layers in G and two in D, Adam betas
    (0.5, 0.9), WGAN-GP weight 10) except where measured better on Adult at 50 epochs (README):
    layers 128 wide, batch 1000 and lr 4e-4 (CTGAN: 256, 500, 2e-4; half the steps at twice
    the lr, about half the CPU time at higher quality and F1); an unpacked critic (pack 1;
    CTGAN packs 10); precision `auto` (bf16 autocast where native); values held by >= 10% of
    the rows (e.g. a 0 in capital-gain) reproduced exactly (the transformer's spikes); rows
    sampled from an exponential moving average of G's weights (0.999, with BatchNorm in eval
    mode); the gradient penalty estimated on half of each batch (`gp_fraction` 0.5: 8% less
    time, the same quality and F1 over 3 seeds; 1.0 is CTGAN's).
    `epsilon` turns on differential privacy (see ganforge.tabular.dp for what it covers); its
    fits take the critic's lr 1e-3 unless `lr_d` is given (DP_DEFAULTS: the screening's figures).
    """

    def __init__(
        self,
        epochs: int = 300,
        batch_size: int | None = None,
        embedding_dim: int = 128,
        generator_width: int = 128,
        discriminator_width: int = 128,
        layers: int = 2,
        pack: int = 1,
        lr_g: float | None = None,
        lr_d: float | None = None,
        n_critic: int = 1,
        gp_weight: float = 10.0,
        gp_fraction: float = 0.5,
        ema: float = 0.999,
        epsilon: float | None = None,
        delta: float | None = None,
        max_grad_norm: float | None = None,
        mixture_rows: int = 10000,
        max_categories: int = 100,
        discrete_threshold: int = 10,
        device: str = "cpu",
        seed: int | None = None,
        verbose: bool = True,
        max_minutes: float = 0.0,
        threads: int = 0,
        precision: str = "auto",
        quiet: bool = False,
    ):
        self.settings = {k: v for k, v in locals().items() if k != "self"}
        for key, value in {**DEFAULTS, **(DP_DEFAULTS if epsilon is not None else {})}.items():
            if self.settings[key] is None:  # (not given: the default, DP's with an epsilon)
                self.settings[key] = value
        self.epochs, self.batch_size = epochs, self.settings["batch_size"]
        self.epsilon, self.delta = epsilon, delta
        self.device, self.seed, self.verbose = device, seed, verbose
        self.quiet = quiet  # verbose: progress on stderr; quiet: plain lines, no bar
        self.transformer: TableTransformer | None = None
        self.config: Config | None = None
        self.generator: torch.nn.Module | None = None
        self.privacy: dict | None = None
        self.history: list[dict] = []
        self.timings: dict[str, float] = {}
        self.plan = None  # ganforge.tabular.metadata.Plan when fit with metadata
        self.last_sample: dict = {}  # rows drawn, kept, rejected per constraint (last sampling)
        self._family: TabularFamily | None = None
        # called with (decisions, warnings) once the columns are typed, before training
        self.on_columns = None
        # called with (stage, done, total) while the table is prepared ("columns": one call per
        # column typed and fitted; "transform": once, before the matrix is built)
        self.on_progress = None

    # ---- fitting -----------------------------------------------------------------------------
    def _config(self, n_rows: int, seed: int, dp: bool) -> Config:
        s = self.settings
        if self.epochs < 1 or self.batch_size < 1:
            raise GanforgeError("epochs and batch_size must be positive")
        steps = self.epochs * max(1, n_rows // self.batch_size)
        from ganforge.run import build_config  # the one config builder (defaults < these)

        config, _ = build_config(
            base=Config(),
            overrides={
                "data": {"source": "table"},
                "model": {
                    "family": "tabular",
                    "arch": "ctgan",
                    "latent_dim": s["embedding_dim"],
                    "g_width": s["generator_width"],
                    "d_width": s["discriminator_width"],
                    "mlp_layers": s["layers"],
                    "d_norm": "none",
                    "pack": 1 if dp else s["pack"],  # DP: packs would mix records' units
                },
                "train": {
                    "steps": steps,
                    "batch_size": self.batch_size,
                    "loss": "wasserstein",
                    "n_critic": s["n_critic"],
                    "lr_g": s["lr_g"],
                    "lr_d": s["lr_d"],
                    "beta1": 0.5,
                    "beta2": 0.9,
                    "gp_weight": s["gp_weight"],
                    "ema": s["ema"],
                    "seed": seed,
                    "device": self.device,
                    "threads": s["threads"],
                    # auto: bf16 autocast where the CPU/GPU computes bf16 natively (~20% less
                    # time on Adult); DP fits stay fp32 under auto (the per-record clipping
                    # norms are what the privacy guarantee rests on)
                    "precision": "fp32" if dp and s["precision"] == "auto" else s["precision"],
                    "fused_adam": True,  # one kernel per optimiser step (falls back if absent)
                    "max_minutes": s["max_minutes"],
                    "log_every": max(1, steps // 50),
                    "sample_every": 0,
                    "checkpoint_every": max(1, steps // 10),
                    "tensorboard": False,
                    # DP: a rollback would spend privacy on steps it then throws away
                    "monitor": not dp,
                },
            },
        )
        return config

    def fit(
        self,
        data: pd.DataFrame | str | Path,
        discrete_columns: list[str] | None = None,
        public_metadata: dict[str, dict] | None = None,
        run_dir: str | Path | None = None,
        resume: bool = False,
        id_columns: list[str] | None = None,
        metadata: dict | None = None,
    ) -> TabularGAN:
        """Learn the table. `discrete_columns` None: detected per column (see `decisions`).

        `public_metadata` ({column: {"categories": [...]} or {"min": a, "max": b}}) replaces the
        data's statistics in the preprocessing (needed for an end-to-end DP guarantee).
        `run_dir`: write checkpoints there (and `resume` from its last one).
        `id_columns`: columns given fresh ids instead of being learned (None: detected: unique in
        every row, see ganforge.tabular.transformer; []: none).
        `metadata` (ganforge.tabular.metadata): column types, roles, bounds and constraints;
        it decides the discrete and id columns (the two lists must then be None).
        """
        from ganforge.training.checkpoint import FORMAT as CKPT_FORMAT
        from ganforge.training.checkpoint import latest_checkpoint, load_file

        frame = _as_frame(data)
        self.plan = None
        if metadata is not None:
            from ganforge.tabular.metadata import Plan

            self.plan = Plan(metadata)
            frame, discrete_columns, id_columns = self.plan.prepare(frame)
        dp = self.epsilon is not None
        seed = self.seed
        saved = None
        if not resume and run_dir is not None:
            if (Path(run_dir) / "checkpoints" / "last.pt").exists():
                raise GanforgeError(
                    "the run directory already holds a fit",
                    str(run_dir),
                    "pass --resume to continue it, or choose another --run-dir",
                )
        if resume:
            if run_dir is None:
                raise GanforgeError("resume needs a run directory", fix="pass --run-dir DIR")
            checkpoint = latest_checkpoint(run_dir)
            saved = load_file(checkpoint, (CKPT_FORMAT,))
            seed = int(saved["config"]["train"]["seed"])  # the same transform and noise draws
        if seed is None:
            # DP noise must be unpredictable: a secret seed (never written to the model file)
            seed = secrets.randbits(31) if dp else 0
        t0 = time.perf_counter()
        s = self.settings
        progress = self.on_progress or (lambda stage, done, total: None)
        self.transformer = TableTransformer(
            mixture_rows=s["mixture_rows"],
            max_categories=s["max_categories"],
            discrete_threshold=s["discrete_threshold"],
            seed=seed,
        ).fit(
            frame,
            discrete_columns,
            public_metadata,
            id_columns,
            progress=lambda done, total: progress("columns", done, total),
        )
        if self.on_columns is not None:
            notes = self.plan.notes if self.plan is not None else []
            self.on_columns(self.transformer.decisions, self.transformer.warnings + notes)
        else:
            for message in self.transformer.warnings:
                warnings.warn(message, stacklevel=2)
        progress("transform", 0, len(frame))
        matrix = torch.from_numpy(self.transformer.transform(frame, seed=seed))
        self.timings["preprocess_s"] = time.perf_counter() - t0
        config = self._config(len(frame), seed, dp)
        if run_dir is not None:
            from ganforge.run import place_run

            place_run(config, run_dir=str(run_dir))
        spans = self.transformer.discrete_spans()
        sampler = ConditionSampler(matrix, spans)
        privacy = None
        if dp:
            privacy, sampler = self._private_setup(sampler, matrix, spans, config, seed)
        layout = layout_of(self.transformer)
        # the networks see the columns in their own grouped order (families.tabular.SpanActivation)
        grouped = SpanActivation(layout["spans"], layout["cond_spans"]).to_grouped(matrix)
        dataset = TableDataset(grouped, sampler, poisson_rate=privacy.sample_rate if dp else 0.0)
        from ganforge.training.loop import resolve_device

        device = resolve_device(self.device)
        family = TabularFamily(config, layout, sampler.to(device), privacy, s["gp_fraction"])
        t1 = time.perf_counter()
        trainer = self._train(config, dataset, family, run_dir, saved is not None)
        summary = trainer.summary
        self.timings["train_s"] = time.perf_counter() - t1
        self.timings["fit_s"] = time.perf_counter() - t0
        self.config, self._family = config, family
        self.generator = trainer.sampling_generator.eval()
        self.history = list(trainer.history)
        self.summary = summary
        self.privacy = privacy.report() if privacy is not None else None
        if self.privacy is not None:
            self.privacy["preprocessing_covered"] = public_metadata is not None
            # exact level counts would leak more than the level lists: not kept in DP models
            # (rare grouped levels are then drawn uniformly)
            for column in self.transformer.columns:
                column.counts = []
                column.rare_counts = [1] * len(column.rare_counts)
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
            "ganforge tabular fit",
            self.quiet,
            self.verbose,
        )

    def _private_setup(self, sampler, matrix, spans, config, seed):
        """DP accountant + noisy level counts for the generator's conditions."""
        from ganforge.tabular.dp import PrivateCritic, noise_for, noisy_counts

        n = len(matrix)
        delta = self.delta if self.delta is not None else 1.0 / (10 * n)
        if self.batch_size >= n:
            raise GanforgeError(
                f"DP needs batch_size < rows ({self.batch_size} >= {n})", fix="lower --batch-size"
            )
        count_noise = 0.0
        if spans:  # a tenth of the budget, alone, releases the level counts
            count_noise = noise_for(0.1 * self.epsilon, delta, 1.0, 1)
        privacy = PrivateCritic(
            self.epsilon,
            delta,
            self.batch_size / n,
            config.train.steps,
            self.settings["max_grad_norm"],
            count_noise,
        )
        counts = [
            sampler.counts[int(sampler.offsets[j]) : int(sampler.offsets[j]) + w].tolist()
            for j, (_, w) in enumerate(spans)
        ]
        generator = torch.Generator().manual_seed(seed + 17)
        frequencies = noisy_counts(counts, count_noise, generator) if spans else None
        return privacy, ConditionSampler(matrix, spans, frequencies)

    # ---- sampling ----------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if self.generator is None or self.transformer is None:
            raise GanforgeError("the model is not fitted", fix="call fit() or TabularGAN.load()")

    def _parse_conditions(self, conditions: dict[str, Any]) -> list[tuple[int, Any, int]]:
        """[(index of the discrete column, the level, its slot)] for each condition."""
        names = [c.name for c in self.transformer.columns]
        discrete = self.transformer.discrete_columns()
        parsed = []
        for name, value in conditions.items():
            if name not in names:
                raise GanforgeError(
                    f"condition on unknown column {name!r}", fix=f"columns are: {', '.join(names)}"
                )
            column = self.transformer.columns[names.index(name)]
            if column.kind == "constant":
                if not _same_level(column.value, value):
                    raise GanforgeError(
                        f"condition {name}={value}: {name!r} is always {column.value!r}"
                    )
                continue
            if column.kind != "discrete":
                raise GanforgeError(
                    f"condition on {name!r}: conditions work on discrete columns only",
                    fix="fit with the column in --discrete to condition on it",
                )
            levels = column.categories + column.rare_values
            match = [lv for lv in levels if _same_level(lv, value)]
            if not match:
                shown = ", ".join(str(lv) for lv in levels[:12]) + (
                    " ..." if len(levels) > 12 else ""
                )
                raise GanforgeError(
                    f"condition {name}={value}: no such value in column {name!r}",
                    fix=f"values are: {shown}",
                )
            level = match[0]
            slot = levels.index(level) if level in column.categories else len(column.categories)
            parsed.append((discrete.index(column), level, slot))
        return parsed

    def sample(
        self, n: int, conditions: dict[str, Any] | None = None, seed: int | None = None
    ) -> pd.DataFrame:
        """n synthetic rows; `conditions` {column: value} on discrete columns holds in every row.

        The first condition is fed to G as its conditional vector; rows are then kept only where
        every condition holds (rejection), until n rows are found (see `sample_chunks`).
        """
        frames = list(self.sample_chunks(n, conditions, seed))
        out = pd.concat(frames, ignore_index=True)
        # concat can widen dtypes (e.g. Int64/object); put the input's back
        return out.astype(frames[0].dtypes.to_dict())

    def _where(self, conditions) -> tuple[list[tuple[str, str, Any]], tuple[int, list[int]] | None]:
        """(every condition as (column, op, value), the conditional vector's (discrete column,
        allowed slots) or None); an impossible condition is one line (no real row near it)."""
        from ganforge.tabular.constraints import condition_holds, parse_where

        if conditions is None:
            items: list = []
        elif isinstance(conditions, (str, list)) and all(isinstance(c, str) for c in conditions):
            items = parse_where(conditions)
        elif isinstance(conditions, dict):
            items = [(k, "=", v) for k, v in conditions.items()]
        else:
            items = [tuple(c) for c in conditions]
        names = [c.name for c in self.transformer.columns]
        known = self.plan.output_columns() if self.plan is not None else names
        by_column: dict[str, list] = {}
        for name, op, value in items:
            if name not in known:
                raise GanforgeError(
                    f"condition on unknown column {name!r}", fix=f"columns are: {', '.join(known)}"
                )
            by_column.setdefault(name, []).append((op, value))
        discrete = self.transformer.discrete_columns()
        best = None  # (probability mass, column index, slots)
        shown = ",".join(f"{n}{o}{v}" for n, o, v in items)
        for name, conds in by_column.items():
            if name not in names:
                merged = self._combination_slots(name, conds, shown)
                if merged is not None:
                    j, slots = merged
                    mass = float(self._family.sampler.data_p[j, slots].sum())
                    if best is None or mass < best[0]:
                        best = (mass, j, slots)
                continue  # (else a column a constraint rebuilds, e.g. a formula: rejection only)
            column = self.transformer.columns[names.index(name)]
            if column.kind == "id":
                raise GanforgeError(f"condition on {name!r}: ids are fresh, never conditioned")
            if column.kind == "constant":
                values = pd.Series([column.value], dtype=object, name=name)
            elif column.kind == "discrete":
                if any(op == "=" for op, _ in conds):
                    for op, value in conds:  # the named value's own error first
                        if op == "=":
                            self._parse_conditions({name: value})
                levels = column.categories + column.rare_values
                values = pd.Series(levels, dtype=object, name=name)
            else:
                if column.dtype == "float" and _has_equality(conds):
                    raise GanforgeError(
                        f"condition on {name!r}: '=' conditions work on discrete columns only "
                        "(a continuous value is never hit exactly)",
                        fix=f'give a range, e.g. --where "{name}>=A,{name}<B"',
                    )
                lo, hi = column.lo, column.hi
                grid = [np.linspace(lo, hi, 2001)]
                for op, value in conds:  # an integer '=' inside the range is on the grid too
                    number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
                    if op == "=" and lo <= number <= hi:
                        grid.append(np.array([float(number)]))
                values = pd.Series(np.sort(np.concatenate(grid)), name=name)
                if column.dtype == "datetime":
                    values = pd.Series(
                        pd.to_datetime(values.to_numpy() * 1e9, unit="ns"), name=name
                    )
            ok = np.ones(len(values), dtype=bool)
            for op, value in conds:
                ok &= condition_holds(values, op, str(value))
            if not ok.any():
                span = f"{values.iloc[0]}..{values.iloc[-1]}" if column.kind == "continuous" else ""
                raise GanforgeError(
                    f"--where {shown}: no real row is near it"
                    + (f" ({name} ranges {span})" if span else f" (no value of {name!r} holds it)"),
                    fix="choose values the table holds",
                )
            if column.kind == "discrete":
                j = discrete.index(column)
                slots = sorted(
                    {
                        i if i < len(column.categories) else len(column.categories)
                        for i in np.flatnonzero(ok)
                    }
                )
                mass = float(self._family.sampler.data_p[j, slots].sum())
                if best is None or mass < best[0]:
                    best = (mass, j, slots)
        return items, (best[1], best[2]) if best else None

    def _combination_slots(self, name: str, conds: list, shown: str):
        """(discrete column, allowed slots) of the merged column of a fixed combination that
        holds `name`, or None: a condition on education conditions G on education|education-num."""
        from ganforge.tabular.constraints import FixedCombinations, condition_holds

        for rule in self.plan.constraints if self.plan is not None else []:
            if not isinstance(rule, FixedCombinations) or name not in rule.names:
                continue
            names = [c.name for c in self.transformer.columns]
            if rule.merged not in names:
                return None
            column = self.transformer.columns[names.index(rule.merged)]
            if column.kind != "discrete" or column.rare_values:
                return None
            k = rule.names.index(name)
            combos = rule.state["combos"]
            values = pd.Series(
                [combos[int(str(lv).rsplit(" ", 1)[-1])][k] for lv in column.categories],
                dtype=object,
                name=name,
            )
            ok = np.ones(len(values), dtype=bool)
            for op, value in conds:
                ok &= condition_holds(values, op, str(value))
            if not ok.any():
                raise GanforgeError(
                    f"--where {shown}: no real row is near it (no value of {name!r} holds it)",
                    fix="choose values the table holds",
                )
            discrete = self.transformer.discrete_columns()
            return discrete.index(column), [int(i) for i in np.flatnonzero(ok)]
        return None

    @torch.no_grad()
    def sample_chunks(
        self, n: int, conditions: Any = None, seed: int | None = None
    ) -> Iterator[pd.DataFrame]:
        """`sample` as DataFrames of at most CHUNK_ROWS rows each (n rows in all, bounded memory).

        `conditions`: {column: value}, or --where texts ("age>=30,age<40,sex=Female"), or
        (column, op, value) triples. The discrete column whose allowed levels are rarest feeds
        G's conditional vector (its allowed levels drawn by their frequencies); every condition
        and every metadata constraint is then checked on each row and the rows that miss are
        drawn again (rejection; `last_sample` says how many). It gives up (one clear line) only
        when under 1% of the rows drawn are kept and 100 x n rows (at least 50 chunks) were drawn.
        """
        from ganforge.tabular.constraints import condition_holds

        self._check_fitted()
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
            raise GanforgeError(f"the number of rows must be a positive integer, got {n!r}")
        seed = secrets.randbits(31) if seed is None else int(seed)
        device = next(self.generator.parameters()).device
        gen = torch.Generator(device).manual_seed(seed)
        items, vector = self._where(conditions)
        plan = self.plan
        chunk = int(min(max(n, 500), CHUNK_ROWS))
        budget = max(50 * chunk, 100 * n)  # rows drawn before a rare condition gives up
        sampler = self._family.sampler
        have, tries, drawn = 0, 0, 0
        rejected: dict[str, int] = {}
        missed = 0  # rows that held the constraints but not the conditions
        self.last_sample = stats = {"drawn": 0, "kept": 0, "rejected": rejected, "missed": 0}
        shown = ",".join(f"{k}{o}{v}" for k, o, v in items)
        while have < n:
            if (items or plan is not None) and drawn >= budget:
                why = f"the conditions ({shown})" if items else "the constraints"
                raise GanforgeError(
                    f"only {have} of {n} rows satisfied {why}: "
                    f"{100 * have / drawn:.2g}% of the {drawn} rows drawn",
                    fix="ask for fewer rows or a value the model produces more often",
                )
            tries += 1
            labels = None
            if vector is not None:
                column, slots = vector
                offset = int(sampler.offsets[column])
                p = sampler.data_p[column, slots].double().cpu().clamp(min=0)
                p = p / p.sum() if p.sum() > 0 else torch.full((len(slots),), 1.0 / len(slots))
                pick = torch.multinomial(
                    p, chunk, replacement=True, generator=_cpu_generator(gen, seed + tries)
                )
                labels = torch.zeros(chunk, sampler.cond_dim, device=device)
                labels[torch.arange(chunk), offset + torch.tensor(slots)[pick]] = 1.0
            rows = self._family.generate(self.generator, chunk, device, gen, labels)
            frame = self.transformer.inverse_transform(
                rows.cpu().numpy(), seed=seed + tries, row_offset=drawn
            )
            drawn += chunk
            keep = np.ones(len(frame), dtype=bool)
            if plan is not None:
                frame = plan.finish(frame)
                keep, broken = plan.valid(frame)
                for k, v in broken.items():
                    rejected[k] = rejected.get(k, 0) + v
            if items:
                holds = np.ones(len(frame), dtype=bool)
                for name, op, value in items:
                    holds &= condition_holds(frame[name], op, str(value))
                missed += int((keep & ~holds).sum())
                keep &= holds
            frame = frame[keep]
            if plan is not None:
                frame = plan.formatted(frame)
            frame = frame.iloc[: n - have].reset_index(drop=True)
            have += len(frame)
            stats.update(drawn=drawn, kept=have, missed=missed)
            if len(frame):
                yield frame

    # ---- persistence -------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the .gft model file atomically."""
        from ganforge import __version__
        from ganforge.training.checkpoint import atomic_save

        self._check_fitted()
        state = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "ganforge_version": __version__,
            "config": self.config.to_dict(),
            "layout": self._family.layout,
            "transformer": self.transformer.to_dict(),
            "frequencies": self._family.sampler.frequencies(),
            "generator": {k: v.cpu() for k, v in self.generator.state_dict().items()},
            "privacy": self.privacy,
            "timings": dict(self.timings),
            "plan": self.plan.to_dict() if self.plan is not None else None,
        }
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_save(state, path)
        except OSError as e:
            raise GanforgeError(f"cannot write the model file ({e.strerror})", str(path)) from None
        return path

    def save_pretrained(self, folder: str | Path) -> Path:
        """Write the model as a pretrained folder: config.json (config, the table's layout,
        transformer and level frequencies as plain JSON) + model.safetensors (G's weights)."""
        from ganforge.pretrained import prefixed, save_folder

        self._check_fitted()
        meta = {
            "family": "tabular",
            "config": self.config.to_dict(),
            "columns": [c.name for c in self.transformer.columns],
            "state": {
                "layout": self._family.layout,
                "transformer": self.transformer.to_dict(),
                "frequencies": self._family.sampler.frequencies(),
                "privacy": self.privacy,
                "timings": dict(self.timings),
                "plan": self.plan.to_dict() if self.plan is not None else None,
            },
        }
        weights = {k: v.cpu() for k, v in self.generator.state_dict().items()}
        return save_folder(folder, "tabular", meta, prefixed("generator", weights))

    @classmethod
    def from_pretrained(cls, folder: str | Path, device: str = "cpu") -> TabularGAN:
        """A model from a pretrained folder (or, as `load`, a .gft file)."""
        return cls.load(folder, device)

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu") -> TabularGAN:
        """Read a .gft file written by save() or a folder written by save_pretrained();
        another format or version is one clear line."""
        from ganforge.pretrained import is_pretrained_folder

        folder = is_pretrained_folder(path)
        state = _folder_state(Path(path)) if folder else _load_state(path)
        config = Config.from_dict(state["config"], str(path))
        model = cls(device=device, verbose=False)
        model.config = config
        try:  # the file's own description of the table: damage there is the file's, not a bug
            model.transformer = TableTransformer.from_dict(state["transformer"])
            if state.get("plan"):
                from ganforge.tabular.metadata import Plan

                model.plan = Plan.from_dict(state["plan"])
            layout = state["layout"]
            data_dim = int(layout["data_dim"])
            spans = [tuple(s) for s in layout["cond_spans"]]
            sampler = ConditionSampler(torch.zeros(0, data_dim), spans, state["frequencies"])
            family = TabularFamily(config, layout, sampler)
            generator, _ = family.build()
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as e:
            raise GanforgeError(
                f"damaged ganforge tabular model: its table layout does not read "
                f"({type(e).__name__}: {str(e)[:80]})",
                str(path),
                "refit the model with `ganforge tabular fit`",
            ) from None
        try:
            if folder:  # every tensor's name, shape and dtype checked, one line naming it
                from ganforge.pretrained import check_fits

                check_fits(state["generator"], generator.state_dict(), path, "the generator")
            generator.load_state_dict(state["generator"])
        except RuntimeError as e:
            raise GanforgeError(
                f"model file does not match its own layout ({str(e).splitlines()[0][:100]})",
                str(path),
            ) from None
        from ganforge.training.loop import resolve_device

        target = resolve_device(device)
        model.generator = generator.to(target).eval()
        family.sampler = sampler.to(target)
        model._family = family
        model.privacy = state.get("privacy")
        model.timings = dict(state.get("timings") or {})
        return model

    @property
    def decisions(self) -> list[str]:
        """How each column is modelled, one line each."""
        return list(self.transformer.decisions) if self.transformer else []


def layout_of(transformer: TableTransformer) -> dict:
    """The matrix layout the networks are built for (plain types)."""
    cond_spans = [[s, w] for s, w in transformer.discrete_spans()]
    return {
        "spans": [[kind, s, w] for kind, s, w in transformer.spans()],
        "cond_spans": cond_spans,
        "cond_dim": sum(w for _, w in cond_spans),
        "data_dim": transformer.output_dim,
    }


def _has_equality(conds) -> bool:
    return any(op == "=" for op, _ in conds)


def _cpu_generator(gen: torch.Generator, seed: int) -> torch.Generator:
    """A CPU generator for the conditional levels (seeded: the same rows for the same seed)."""
    return torch.Generator().manual_seed(int(seed))


def _same_level(level: Any, value: Any) -> bool:
    """Whether a user's value names a level (text from --where matches numbers and booleans)."""
    if level is None:
        return (
            value is None
            or (
                isinstance(value, str)
                and value.strip().lower() in ("", "nan", "na", "null", "none")
            )
            or (isinstance(value, float) and math.isnan(value))
        )
    if value is None:
        return False
    if level_key(level) == level_key(plain_value(value)):
        return True
    text = str(value).strip()
    if isinstance(level, bool):
        return text.lower() == str(level).lower()
    if isinstance(level, (int, float)):
        try:
            return float(text) == float(level)
        except ValueError:
            return False
    return str(level) == text


def _as_frame(data) -> pd.DataFrame:
    if isinstance(data, (str, Path)):
        from ganforge.tabular.io import read_csv

        return read_csv(data)
    if not isinstance(data, pd.DataFrame):
        raise GanforgeError(f"expected a pandas DataFrame or a CSV path, got {type(data).__name__}")
    if data.shape[1] == 0 or len(data) == 0:
        raise GanforgeError("the table is empty", fix="give a table with rows and columns")
    return data


def _load_state(path: str | Path) -> dict:
    from ganforge.training.checkpoint import KINDS, check_structure

    path = Path(path)
    fix = "give a .gft written by `ganforge tabular fit`"
    state = read_torch_file(path, "a ganforge tabular model", fix)
    found = state.get("format") if isinstance(state, dict) else None
    if found != FORMAT:
        kind = KINDS.get(found) if isinstance(found, str) else None
        what = f"{kind}, not a ganforge tabular model" if kind else "not a ganforge tabular model"
        raise GanforgeError(what, str(path), fix)
    version = state.get("format_version")
    if version != FORMAT_VERSION:
        raise GanforgeError(
            f"model file format version {version} (written by ganforge "
            f"{state.get('ganforge_version', '?')}); this ganforge reads version {FORMAT_VERSION}",
            str(path),
            "refit the model with this version of ganforge",
        )
    check_structure(state, _REQUIRED, path, "a ganforge tabular model")
    return state


def _folder_state(folder: Path) -> dict:
    """A pretrained folder's content in the shape of a .gft's state (entries checked)."""
    from ganforge.pretrained import load_folder, part
    from ganforge.training.checkpoint import check_structure

    meta, tensors = load_folder(folder, ("tabular",))
    fix = "the folder was altered: copy it again or save it again"
    unknown = [k for k in tensors if not k.startswith("generator.")]
    if unknown:
        raise GanforgeError(f"unexpected tensor {unknown[0]!r}", str(folder), fix)
    state = {**(meta.get("state") or {}), "config": meta["config"]}
    state["generator"] = part(tensors, "generator")
    check_structure(state, _REQUIRED, folder, "a ganforge tabular model")
    return state


# What a .gft must hold (checked on load, so a damaged file never ends in a KeyError).
_REQUIRED = {
    "config": dict,
    "layout": dict,
    "transformer": dict,
    "frequencies": (list, tuple, torch.Tensor),
    "generator": dict,
}
