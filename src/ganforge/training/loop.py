"""The ONE training loop: n_critic discriminator updates, then one generator update, for every family."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganforge.config import Config, validate
from ganforge.data import BatchSampler, InMemoryDataset
from ganforge.errors import GanforgeError
from ganforge.families import Family, family_class, make_family
from ganforge.training import distributed, performance
from ganforge.training.augment import make_augment
from ganforge.training.checkpoint import (
    FORMAT,
    FORMAT_VERSION,
    GENERATOR_FORMAT,
    all_finite,
    atomic_save,
    load_file,
    periodic_checkpoints,
    rng_state,
    set_rng_state,
)
from ganforge.training.ema import EMA
from ganforge.training.monitor import ADVICE, HealthMonitor, RollbackNeeded

_AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(name: str) -> torch.device:
    """`auto` picks cuda, then mps, then cpu; an unavailable device is a clear error."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise GanforgeError(
            f"unknown device {name!r}", fix="use cpu, cuda, cuda:N, mps or auto"
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise GanforgeError("--device cuda but no CUDA GPU is available", fix="use --device cpu")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise GanforgeError("--device mps but MPS is not available", fix="use --device cpu")
    return device


class TrainingInterrupted(GanforgeError):
    """SIGINT or SIGTERM stopped fit() (exit code 130); `checkpoint` holds the state, or None.

    `saved`: fit() wrote `checkpoint` at `step` itself (else it is an older one, kept intact).
    """

    def __init__(self, step: int, checkpoint: Path | None, saved: bool, where: str, fix: str):
        what = f"interrupted at step {step}"
        if saved:
            what += " (checkpoint saved)"
        elif checkpoint is not None:
            what += " (the last checkpoint is intact)"
        else:
            what += " (no checkpoint was written)"
        super().__init__(what, where, fix, exit_code=130)
        self.step, self.checkpoint, self.saved = step, checkpoint, saved


def fill_data_shape(config: Config, dataset: InMemoryDataset) -> None:
    """Record the data's sample shape and classes in the model config (the export needs them)."""
    config.model.sample_shape = list(dataset.sample_shape)
    config.model.num_classes = dataset.num_classes
    config.model.class_names = list(dataset.class_names or [])


class Trainer:
    """Owns the loop and nothing model-specific; the family turns batches into losses."""

    def __init__(
        self,
        config: Config,
        run_dir: str | Path | None = None,
        dataset: InMemoryDataset | None = None,
        callbacks: list | None = None,
        family: Family | None = None,
    ):
        validate(config)
        self.config = config
        t = config.train
        self.device = resolve_device(t.device)
        self.dist = distributed.setup(self.device.type)
        if self.device.type == "cuda" and self.dist.world_size > 1:
            self.device = torch.device("cuda", self.dist.local_rank)
        self.run_dir = Path(run_dir) if run_dir else None
        if dataset is None:  # each family knows what its data looks like (SR: full-size images)
            dataset = (type(family) if family else family_class(config)).load_dataset(config)
        if len(dataset) == 0:
            raise GanforgeError("the dataset is empty", config.data.source)
        fill_data_shape(config, dataset)
        self.dataset = dataset.to(self.device)
        self.family = family or make_family(config)
        if self.family.augment is None:  # families apply it to every D call
            self.family.augment = make_augment(t, config.model.sample_shape)
        # The trainer owns its random stream: the global RNG is swapped in only while it works
        # (see _own_rng), so two trainers, or user code between fit() calls, never interleave.
        with self._fork_rng():
            torch.manual_seed(t.seed + 1_000_003 * self.dist.rank)
            self.generator, self.discriminator = (m.to(self.device) for m in self.family.build())
            self._rng = rng_state(self.device)
        self._bn_note = ""
        if t.sync_bn:
            world = self.dist.world_size
            self.generator, _ = performance.sync_batchnorm(self.generator, self.device, world)
            self.discriminator, self._bn_note = performance.sync_batchnorm(
                self.discriminator, self.device, world
            )
        self._inside = False
        distributed.broadcast_module(self.generator)
        distributed.broadcast_module(self.discriminator)
        self._setup_speed()
        betas = (t.beta1, t.beta2)
        self.opt_g = performance.adam(
            self.generator.parameters(), t.lr_g, betas, self.device, t.fused_adam
        )
        self.opt_d = performance.adam(
            self.discriminator.parameters(), t.lr_d, betas, self.device, t.fused_adam
        )
        self.ema = EMA(self.generator, t.ema) if t.ema > 0 else None
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.precision == "fp16")
        self.sampler = BatchSampler(
            len(self.dataset), t.batch_size, t.seed, self.dist.rank, self.dist.world_size
        )
        self.step = 0
        self.history: list[dict[str, Any]] = []
        self.callbacks = list(callbacks or [])
        self.stop_requested = False
        self.failed = False
        # What an interrupt tells the user to run to continue (run.train: `ganforge train
        # --resume RUN`); None: how to continue from the checkpoint with this API.
        self.resume_command: str | None = None
        self._signal: str | None = None  # a SIGINT/SIGTERM seen during fit(), handled between steps
        self._mid_step = False  # inside a step or its log: the state is half-way, never saved
        self._sums: dict[str, torch.Tensor] = {}
        self._count = 0
        self._bad_step = torch.full((), -1, dtype=torch.long, device=self.device)
        # The health monitor rolls back NaN/divergence (training/monitor.py); lr_scale is its
        # learning-rate multiplier, which persists (checkpointed) over the lr schedule.
        self.monitor = HealthMonitor(t) if t.monitor else None
        self.lr_scale = 1.0

    # ---- speed -----------------------------------------------------------------------------
    def _setup_speed(self) -> None:
        """Threads, precision, memory format and compilation, each chosen for this hardware."""
        t = self.config.train
        notes = []
        if self.device.type == "cpu":
            local = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
            threads, why = performance.configure_cpu(t.threads, local)
            notes.append(f"{threads} thread{'s' * (threads != 1)} ({why})")
        self.precision, reason = performance.resolve_precision(t.precision, self.device)
        notes.append(f"{self.precision} ({reason})")
        # Convs only: channels_last changes nothing for MLPs on vectors.
        self.channels_last = t.channels_last and self.dataset.is_image
        if self.channels_last:
            self.generator.to(memory_format=torch.channels_last)
            self.discriminator.to(memory_format=torch.channels_last)
            notes.append("channels_last")
        if t.fused_adam:
            notes.append("fused Adam")
        if self._bn_note:
            notes.append(self._bn_note)
        # The loop runs these; self.generator/discriminator stay the plain modules (checkpoints).
        self.g_run, self.d_run = self.generator, self.discriminator
        if t.compile:
            self.g_run = performance.compile_module(self.generator)
            self.d_run = performance.compile_module(self.discriminator)
            notes.append("torch.compile")
        self.speed_notes = ", ".join(notes)

    # ---- randomness ------------------------------------------------------------------------
    def _fork_rng(self):
        devices = [self.device] if self.device.type == "cuda" else []
        return torch.random.fork_rng(devices=devices, device_type=self.device.type)

    @contextlib.contextmanager
    def _own_rng(self):
        """Run with this trainer's RNG stream installed as the global one; save it afterwards."""
        if self._inside:
            yield
            return
        with self._fork_rng():
            set_rng_state(self._rng, self.device)
            self._inside = True
            try:
                yield
            finally:
                self._inside = False
                self._rng = rng_state(self.device)

    def _rng_now(self) -> dict[str, Any]:
        return rng_state(self.device) if self._inside else self._rng

    # ---- the networks to sample from -------------------------------------------------------
    @property
    def sampling_generator(self) -> nn.Module:
        """The EMA generator when enabled, else the live one."""
        return self.ema.module if self.ema else self.generator

    @torch.no_grad()
    def generate(
        self, n: int, generator: torch.Generator | None = None, labels: torch.Tensor | None = None
    ) -> torch.Tensor:
        """n samples in eval mode from the sampling generator, without touching the global RNG."""
        G = self.sampling_generator
        was_training = G.training
        G.eval()
        try:
            return self.family.generate(G, n, self.device, generator, labels)
        finally:
            G.train(was_training)

    # ---- one iteration ---------------------------------------------------------------------
    def _autocast(self):
        precision = self.precision
        if precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=_AUTOCAST_DTYPES[precision])

    def _update(
        self, loss: torch.Tensor, module: nn.Module, opt: torch.optim.Optimizer, measure_norm: bool
    ) -> torch.Tensor | None:
        opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        distributed.average_gradients(module, self.dist.world_size)
        norm = None
        clip = self.config.train.grad_clip
        if clip > 0 or measure_norm:
            self.scaler.unscale_(opt)
            norm = torch.nn.utils.clip_grad_norm_(
                module.parameters(), clip if clip > 0 else float("inf")
            )
        self.scaler.step(opt)
        self.scaler.update()
        return norm

    def _next_batch(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        real, y = self.dataset.batch(self.sampler.next_index())
        if self.channels_last:
            real = real.contiguous(memory_format=torch.channels_last)
        return real, y

    def lr_factor(self, step: int) -> float:
        """Linear decay to 0 after lr_decay_start * steps (a pure function of the step: resumable)."""
        t = self.config.train
        start = t.lr_decay_start * t.steps
        if step < start or t.lr_decay_start >= 1.0:
            return 1.0
        return max(0.0, 1.0 - (step - start) / max(t.steps - start, 1))

    def _apply_lr_schedule(self) -> None:
        factor = self.lr_factor(self.step) * self.lr_scale
        t = self.config.train
        for opt, lr in ((self.opt_g, t.lr_g), (self.opt_d, t.lr_d)):
            for group in opt.param_groups:
                group["lr"] = lr * factor

    def train_step(self, log_now: bool = False) -> None:
        """n_critic discriminator updates, then one generator update (and the EMA)."""
        t = self.config.train
        G, D = self.g_run, self.d_run
        logs: dict[str, torch.Tensor] = {}
        self._apply_lr_schedule()
        D.requires_grad_(True)
        # A family may skip D updates (e.g. SRGAN's pixel-loss pretraining phase).
        d_loss, norm = torch.zeros((), device=self.device), None
        for i in range(t.n_critic if self.family.train_discriminator(self.step) else 0):
            real, y = self._next_batch()
            d_step = self.step * t.n_critic + i
            with self._autocast():
                d_loss, d_logs = self.family.discriminator_loss(G, D, real, y, d_step)
            norm = self._update(
                d_loss, self.discriminator, self.opt_d, log_now and i == t.n_critic - 1
            )
            logs.update(d_logs)
        D.requires_grad_(False)  # the G step needs gradients through D, not of D's weights
        real, y = self._next_batch() if self.family.g_step_batch else (None, None)
        with self._autocast():
            g_loss, g_logs = self.family.generator_loss(G, D, real, y, self.step)
        g_norm = self._update(g_loss, self.generator, self.opt_g, log_now)
        logs.update(g_logs)
        if log_now:
            logs["g_grad_norm"] = g_norm
            if norm is not None:
                logs["d_grad_norm"] = norm
        if self.ema:
            self.ema.update(self.generator)
        finite = torch.isfinite(d_loss.detach()) & torch.isfinite(g_loss.detach())
        self._bad_step = torch.where(~finite & (self._bad_step < 0), self.step, self._bad_step)
        for k, v in logs.items():
            v = v.detach().float()
            self._sums[k] = self._sums[k] + v if k in self._sums else v.clone()
        self._count += 1
        self.step += 1

    def _flush_logs(self) -> dict[str, float]:
        """The one host sync of a logging interval: means of the accumulated logs."""
        names = list(self._sums)
        if self.dist.world_size > 1:  # a NaN on any rank stops (or rolls back) every rank
            torch.distributed.all_reduce(self._bad_step, op=torch.distributed.ReduceOp.MAX)
        values = torch.stack([self._sums[k] for k in names] + [self._bad_step.float()]).tolist()
        bad_step = int(values.pop())
        scalars = {
            k: v / self._count if not k.endswith("grad_norm") else v
            for k, v in zip(names, values, strict=True)
        }
        self._sums, self._count = {}, 0
        if bad_step >= 0:
            self._diverged(bad_step)
        return scalars

    def check_finite(self) -> None:
        """Raise if any loss since the start was NaN/Inf (one host sync; called before saving)."""
        bad_step = int(self._bad_step)
        if bad_step >= 0:
            self._diverged(bad_step)

    def _diverged(self, bad_step: int) -> None:
        last = self.run_dir / "checkpoints" / "last.pt" if self.run_dir else None
        hint = f"resume from {last}" if last and last.exists() else "lower the learning rates"
        what = f"training diverged: non-finite loss at step {bad_step + 1}"
        where, fix = str(self.run_dir or "in memory"), f"{hint}, or lower --lr-g/--lr-d"
        if self.monitor is not None:  # the loop catches this and rolls back instead of stopping
            raise RollbackNeeded(what, where, fix)
        raise GanforgeError(what, where, fix, exit_code=1)  # a run that trained but failed

    # ---- the loop --------------------------------------------------------------------------
    def fit(self) -> dict[str, Any]:
        """Train until config.train.steps; returns a summary (steps, seconds, last logs, health).

        `summary["failed"]` is None, or why the run FAILED (its generator is unusable at the end:
        see HealthMonitor.verdict); what exists is saved either way. SIGINT and SIGTERM stop it
        between two steps: the state is checkpointed there (when finite) and TrainingInterrupted
        (exit code 130) says how to continue; a second signal stops at once, saving nothing.
        Under torchrun a finished run ends with every rank leaving the process group together
        (an interrupted or failed one leaves it when its process exits).
        """
        with self._own_rng(), self._signals_between_steps():
            summary = self._fit()
        if self.dist.world_size > 1:
            distributed.barrier()  # nobody leaves while another rank still talks to the group
            distributed.teardown()
        return summary

    @contextlib.contextmanager
    def _signals_between_steps(self):
        """SIGINT/SIGTERM set a flag the loop reads between steps (main thread only; the previous
        handlers come back afterwards); a second signal raises KeyboardInterrupt at once."""
        self._signal = None
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def note(signum, frame):
            if self._signal is not None:
                raise KeyboardInterrupt
            self._signal = signal.Signals(signum).name
            if self.dist.is_main:  # os.write: print() is not safe inside a signal handler
                os.write(
                    2,
                    f"\nganforge: {self._signal}: saving a checkpoint after this step (send "
                    "it again to stop at once)\n".encode(),
                )

        previous = {s: signal.signal(s, note) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler if handler is not None else signal.SIG_DFL)

    def _interrupt_agreed(self) -> bool:
        """A signal arrived: single process, at once; under torchrun every rank must stop at the
        same step, so ranks agree at logging steps (one tiny all-reduce, when syncs happen anyway)."""
        if self.dist.world_size == 1:
            return self._signal is not None
        if self.step % self.config.train.log_every:
            return False
        flag = torch.tensor(float(self._signal is not None), device=self.device)
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        return bool(flag.item())

    def _log(self, t0: float) -> dict[str, float]:
        scalars = self._flush_logs()
        scalars["step"] = self.step
        scalars["seconds"] = round(time.perf_counter() - t0, 3)
        self.history.append(dict(scalars))
        for cb in self.callbacks:
            cb.on_log(self, scalars)
        if self.monitor is not None:
            self.monitor.on_log(self, scalars)
        return scalars

    def _end_callbacks(self) -> None:
        for cb in self.callbacks:
            cb.on_train_end(self)

    def _fit(self) -> dict[str, Any]:
        start_step, t0 = self.step, time.perf_counter()
        try:
            for cb in self.callbacks:
                cb.on_train_start(self)
            if self.monitor is not None:
                self.monitor.on_train_start(self)
            last, interrupted = self._loop(t0)
            failure = None
            if not interrupted and self.monitor is not None:
                failure = self.monitor.verdict(self)
        except KeyboardInterrupt:  # a second signal, or one raised past the handler (threads)
            self.failed = True
            # Mid-step the state is half-way: keep the last checkpoint. Under torchrun the other
            # ranks may not have stopped: no collective (the save gathers every rank's RNG).
            consistent = not self._mid_step and self.dist.world_size == 1
            error = self._interrupted(consistent)
            self._end_callbacks()
            raise error from None
        except BaseException:
            self.failed = True
            self._end_callbacks()
            raise
        if interrupted:
            self.failed = True  # no final sample grid or export: the run is not finished
            error = self._interrupted(consistent=True)
            self._end_callbacks()
            raise error
        self._end_callbacks()
        seconds = time.perf_counter() - t0
        return {
            "steps": self.step,
            "new_steps": self.step - start_step,
            "seconds": seconds,
            "last": last,
            "health": self.monitor.summary() if self.monitor is not None else "monitor off",
            "failed": failure,
            "advice": ADVICE if failure else None,
        }

    def _loop(self, t0: float) -> tuple[dict[str, float], bool]:
        """The steps until the end, a time limit, a stop request or a signal: (last log, signal)."""
        t = self.config.train
        last: dict[str, float] = {}
        deadline = t0 + 60 * t.max_minutes if t.max_minutes > 0 else float("inf")
        while self.step < t.steps and not self.stop_requested:
            if self._interrupt_agreed():
                return last, True
            if time.perf_counter() > deadline:
                break
            log_now = (self.step + 1) % t.log_every == 0 or self.step + 1 == t.steps
            try:
                self._mid_step = True
                self.train_step(log_now)
                if log_now:
                    last = self._log(t0)
                self._mid_step = False
                for cb in self.callbacks:
                    cb.on_step_end(self)
                if self.monitor is not None:
                    self.monitor.on_step_end(self)
            except RollbackNeeded as problem:  # only raised with the monitor on
                self._mid_step = False
                self.monitor.roll_back(self, problem)
        if self._count:  # stopped between logging intervals (time limit, stop request)
            last = self._log(t0)
        return last, False

    def _interrupted(self, consistent: bool) -> TrainingInterrupted:
        """Checkpoint the state at this step boundary when it is finite; the error to raise."""
        path, saved, unsaved = None, False, ""
        if self.run_dir is not None:
            path = self.run_dir / "checkpoints" / "last.pt"
            healthy = consistent and int(self._bad_step) < 0  # no NaN loss since the last check
            try:  # save_checkpoint itself refuses non-finite weights
                saved = healthy and (self.save_checkpoint() is not None or not self.dist.is_main)
            except OSError as e:  # a full disk must not hide the interrupt (the old file stays)
                unsaved = f" (writing the checkpoint failed: {e.strerror})"
        if path is None or not (saved or path.exists()):
            fix = "nothing to continue from: start the run again"
            path = None
        elif self.resume_command:
            fix = f"continue with: {self.resume_command}"
        else:
            fix = f"continue with Trainer.resume('{path}') and fit()"
        where = str(self.run_dir or "in memory") + unsaved
        return TrainingInterrupted(self.step, path, saved, where, fix)

    # ---- checkpoints -----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue the same trajectory."""
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "config": self.config.to_dict(),
            "step": self.step,
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "ema": self.ema.state_dict() if self.ema else None,
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": self._rng_now(),
            "sampler": self.sampler.state_dict(),
            "history": list(self.history),
            "family": self.family.state_dict(),
            "lr_scale": self.lr_scale,
            "health": self.monitor.state_dict() if self.monitor is not None else None,
            "augment": self._augment.state_dict() if self._augment is not None else None,
            # the logs accumulated since the last flush: a resume between logging steps (an
            # interrupt) logs the same means as the uninterrupted run
            "pending_logs": {"sums": dict(self._sums), "count": self._count},
        }

    @property
    def _augment(self):
        # The family's DiffAugment/ADA state (ADA's p), when it has one.
        return self.family.augment

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state_dict (the caller checked the config is compatible)."""
        self.generator.load_state_dict(state["generator"])
        self.discriminator.load_state_dict(state["discriminator"])
        if self.ema and state.get("ema"):
            self.ema.load_state_dict(state["ema"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self._rng = state["rng"]
        rank_rngs = state.get("rank_rng") or []
        if self.dist.rank:
            if len(rank_rngs) == self.dist.world_size:  # same world: continue this rank's stream
                self._rng = rank_rngs[self.dist.rank]
            else:  # a different world size: a fresh stream per rank, derived from the saved one
                with self._fork_rng():
                    set_rng_state(state["rng"], self.device)
                    torch.manual_seed(int(torch.randint(2**62, (1,)).item()) + self.dist.rank)
                    self._rng = rng_state(self.device)
        if self._inside:
            set_rng_state(self._rng, self.device)
        self.family.load_state_dict(state.get("family") or {})
        self.sampler.load_state_dict(state["sampler"])
        self.step = int(state["step"])
        self.history = list(state.get("history", []))
        self.lr_scale = float(state.get("lr_scale", 1.0))
        if self.monitor is not None and state.get("health"):
            self.monitor.load_state_dict(state["health"])
        if self._augment is not None and state.get("augment"):
            self._augment.load_state_dict(state["augment"])
        # The logs accumulated since the state's last flush are part of it; the NaN flag is not
        # (only finite states are saved or kept as snapshots).
        pending = state.get("pending_logs") or {}
        self._sums = {k: v.to(self.device) for k, v in pending.get("sums", {}).items()}
        self._count = int(pending.get("count", 0))
        self._bad_step = torch.full_like(self._bad_step, -1)

    def resume(self, path: str | Path) -> None:
        """Continue from a checkpoint file written by save_checkpoint."""
        state = load_file(path, (FORMAT,))
        check_compatible(self.config, Config.from_dict(state["config"], str(path)), str(path))
        self.load_state_dict(state)

    def save_checkpoint(self, periodic: bool = False, name: str = "last.pt") -> Path | None:
        """Write checkpoints/<name> (and step_XXXXXXX.pt when periodic) atomically, on rank 0.

        Refuses (returns None) when any weight is non-finite: a good checkpoint is never
        overwritten by a bad one.
        """
        # Every rank's RNG goes into the checkpoint, so a multi-process resume is exact too
        # (a collective: all ranks call save_checkpoint).
        rank_rngs = distributed.gather_objects(self._rng_now(), self.dist.world_size)
        if not self.run_dir or not self.dist.is_main:
            return None
        if not (all_finite(self.generator) and all_finite(self.discriminator)):
            return None
        folder = self.run_dir / "checkpoints"
        folder.mkdir(parents=True, exist_ok=True)
        state = self.state_dict()
        if self.dist.world_size > 1:
            state["rank_rng"] = rank_rngs
        atomic_save(state, folder / name)
        if periodic:
            atomic_save(state, folder / f"step_{self.step:07d}.pt")
            keep = self.config.train.keep_checkpoints
            for old in periodic_checkpoints(folder)[:-keep] if keep > 0 else []:
                old.unlink()
        return folder / name

    def export_generator(self, path: str | Path | None = None) -> Path | None:
        """Write the sampling generator's weights + the config that rebuilds it (generator.pt)."""
        if not self.dist.is_main or (path is None and not self.run_dir):
            return None
        path = Path(path) if path else self.run_dir / "generator.pt"
        atomic_save(
            {
                "format": GENERATOR_FORMAT,
                "format_version": FORMAT_VERSION,
                "config": self.config.to_dict(),
                "step": self.step,
                "state_dict": self.sampling_generator.state_dict(),
            },
            path,
        )
        return path


# Settings that may differ when resuming without changing the trajectory's meaning.
_RESUME_FREE = {
    "steps",
    "max_minutes",
    "log_every",
    "sample_every",
    "checkpoint_every",
    "keep_checkpoints",
    "tensorboard",
    "device",
    "precision",
    "threads",
    "channels_last",
    "compile",
    "fused_adam",
}


def check_compatible(config: Config, saved: Config, where: str) -> None:
    """A resume must rebuild the same networks on the same data with the same training rule."""
    mine, theirs = config.to_dict(), saved.to_dict()
    diffs = []
    own = [saved.model.family] if saved.model.family in saved.families else []  # its [family]
    for section in ("data", "model", "train", *own):
        for key, value in theirs[section].items():
            if key in _RESUME_FREE or key in ("sample_shape", "num_classes", "class_names"):
                continue
            if mine[section].get(key) != value:
                diffs.append(f"{section}.{key}: {value!r} -> {mine[section].get(key)!r}")
    if diffs:
        raise GanforgeError(
            f"--resume with an incompatible config ({'; '.join(diffs[:4])})",
            where,
            "resume with the saved settings (only --steps and logging intervals may change)",
        )
