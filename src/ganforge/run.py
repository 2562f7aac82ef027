"""Runs on disk: pick, lock and prepare the run directory, wire the callbacks, train or resume."""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from pathlib import Path
from typing import Any

from ganforge.config import Config
from ganforge.errors import GanforgeError
from ganforge.io_checks import check_writable
from ganforge.training import distributed
from ganforge.training.callbacks import Checkpointer, ConsoleProgress, MetricsLogger, SampleGrid
from ganforge.training.checkpoint import latest_checkpoint, load_file
from ganforge.training.evaluation import EvalCallback
from ganforge.training.loop import Trainer, resolve_device

try:
    import fcntl
except ImportError:  # not POSIX: an O_EXCL lock file instead
    fcntl = None

LOCK_FILE = ".lock"


def default_run_name(config: Config) -> str:
    """`<preset or family-arch>-<YYYYmmdd-HHMMSS>`."""
    stem = config.preset or f"{config.model.family}-{config.model.arch}"
    return f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"


# ---- naming and finding runs (the one place that turns paths into runs) ------------------------

RUN_MARKERS = ("checkpoints", "generator.pt", "detector.pt")  # what makes a folder a run


def split_run_path(run_dir: str | Path) -> tuple[str, str]:
    """(parent, name) of a run directory: config.out and config.name."""
    run_dir = Path(run_dir)
    return str(run_dir.parent), run_dir.name


def run_of(path: str | Path) -> Path:
    """The run directory of a run directory or of a checkpoint inside it (RUN/checkpoints/X.pt)."""
    path = Path(path)
    return path if path.is_dir() else path.parent.parent


def place_run(
    config: Config, out: str | None = None, name: str | None = None, run_dir: str | None = None
) -> Config:
    """Apply `--out PARENT --name NAME` or `--run-dir EXACT` to the config (in place)."""
    if run_dir is not None:
        if out is not None or name is not None:
            raise GanforgeError(
                "--run-dir names the run directory exactly", fix="drop --out/--name, or --run-dir"
            )
        config.out, config.name = split_run_path(run_dir)
        return config
    if out:
        config.out = out
    if name:
        config.name = name
    return config


def _run_mtime(run: Path) -> float:
    """When a run last saved: its newest checkpoint (else its model files)."""
    files = list((run / "checkpoints").glob("*.pt")) + [run / "generator.pt", run / "detector.pt"]
    times = [f.stat().st_mtime for f in files if f.is_file()]
    return max(times, default=0.0)


def is_run(path: Path) -> bool:
    """A folder holding a run (checkpoints/, generator.pt or detector.pt)."""
    return path.is_dir() and any((path / marker).exists() for marker in RUN_MARKERS)


def resolve_run(path: str | Path, stream=None) -> str:
    """A run as given, or, for a folder that holds runs but is none, its newest run (by last
    checkpoint), said on stderr: `ganforge sample runs/` after `train --out runs`."""
    import sys

    folder = Path(path)
    if not folder.is_dir() or is_run(folder):
        return str(path)
    runs = runs_below(folder, depth=3)  # `runs/` after `train --out runs/mnist` too
    if not runs:
        return str(path)
    newest = max(runs, key=lambda r: (_run_mtime(r), r.name))
    more = f" (newest of {len(runs)} runs)" if len(runs) > 1 else ""
    print(f"ganforge: using run {newest}{more}", file=stream or sys.stderr)
    return str(newest)


def runs_below(folder: Path, depth: int) -> list[Path]:
    """The runs in a folder and in its sub-folders, up to `depth` levels down (a run's own
    sub-folders are not searched)."""
    found = []
    for child in sorted(folder.iterdir()):
        if not child.is_dir() or child.name.startswith("."):
            continue
        if is_run(child):
            found.append(child)
        elif depth > 1:
            found += runs_below(child, depth - 1)
    return found


def run_location(
    out: str | None = None,
    name: str | None = None,
    run_dir: str | None = None,
    resume: str | None = None,
    default_name: str | None = None,
) -> tuple[str | None, bool]:
    """(run directory, resuming) from `--out PARENT --name NAME`, `--run-dir EXACT` and
    `--resume [RUN]`, for commands whose run needs no config to be named: `--resume RUN` is the
    run itself (a folder of runs: its newest); bare `--resume` ("") continues the run the other
    flags name; `--out` without `--name` takes `default_name` (None: an error); no flag: None."""
    if resume:
        if run_dir or out or name:
            raise GanforgeError(
                "--resume RUN names the run", fix="drop --run-dir/--out/--name, or RUN"
            )
        return resolve_run(resume), True
    if run_dir:
        if out or name:
            raise GanforgeError(
                "--run-dir names the run directory exactly", fix="drop --out/--name, or --run-dir"
            )
        return str(run_dir), resume is not None
    if out or name:
        if not (name or default_name):
            raise GanforgeError("--out needs --name", fix="e.g. --out runs --name NAME")
        return str(Path(out or "runs") / (name or default_name)), resume is not None
    if resume is not None:
        raise GanforgeError("resume needs a run directory", fix="pass --run-dir DIR")
    return None, False


def build_config(
    base: Config | None = None,
    preset: str | None = None,
    config_file: str | None = None,
    resume: str | None = None,
    overrides: dict[str, dict] | None = None,
    out: str | None = None,
    name: str | None = None,
    run_dir: str | None = None,
) -> tuple[Config, str | None]:
    """The one config builder: defaults < preset (or `base`) < TOML < flags; the run placed by
    --out/--name or --run-dir; (config, resume path). A bare resume ("") is the run named by
    --out/--name or --run-dir; resuming without preset/TOML takes the run's own config."""
    from ganforge.config import merge
    from ganforge.presets import DEFAULT_PRESET, get_preset

    if resume == "":  # bare --resume: the run named by --name/--out (or --run-dir)
        if run_dir:
            resume = str(run_dir)
        elif name:
            resume = str(Path(out or "runs") / name)
        else:
            raise GanforgeError(
                "--resume without a path needs --name (or --run-dir)",
                fix="or pass --resume RUN_DIR",
            )
    if config_file:
        config = Config.load(config_file)
    elif preset:
        config = get_preset(preset)
    elif base is not None:
        config = base
    elif resume is not None:
        config = config_from_checkpoint(resume)
        config.out, config.name = split_run_path(run_of(resume))
    elif (overrides or {}).get("train", {}).get("init_from"):  # fine-tuning: the model's own
        config = init_source_config(overrides["train"]["init_from"])
    else:
        config = get_preset(DEFAULT_PRESET)
    config = merge(config, overrides or {})
    place_run(config, out, name, run_dir)
    if resume is not None and not config.name:
        config.out, config.name = split_run_path(run_of(resume))
    return config, resume


def init_source_config(source: str) -> Config:
    """The config a fine-tuning run starts from (`--init-from-pretrained` without --preset or
    --config): the source model's own networks, data and training settings, placed afresh."""
    from ganforge.pretrained import resolve
    from ganforge.sampling import load_generator

    config = Config.from_dict(load_generator(resolve(source)).config.to_dict())
    fresh = Config()
    config.out, config.name = fresh.out, fresh.name
    return config


def init_weights(trainer: Trainer, source: str, stream=None) -> None:
    """Fine-tuning: the trainer's G (and its EMA) and, where the source saved one, D start from
    the weights of `source` (a pretrained name, run, file or model folder); every tensor's name
    and shape is checked first, so weights that do not fit are one line and nothing loads."""
    import sys

    from ganforge.pretrained import check_fits, is_pretrained_folder, resolve
    from ganforge.sampling import load_generator

    path = resolve(source)
    if path.is_dir() and not is_pretrained_folder(path) and (path / "checkpoints").is_dir():
        path = latest_checkpoint(path)  # a run: its checkpoint holds D as well as the (EMA) G
    model = load_generator(path)
    where = f"--init-from-pretrained {source}"
    fix = (
        "fine-tune with the source's own networks (leave out --preset/--config and the size "
        "flags) on data of its shape and classes"
    )
    nets = [("generator", model.module.state_dict(), trainer.generator)]
    if model.discriminator_weights:
        nets.append(("discriminator", model.discriminator_weights, trainer.discriminator))
    for name, weights, net in nets:  # all checked before any is loaded
        check_fits(weights, net.state_dict(), where, f"its {name} does not fit", fix, False)
    for _, weights, net in nets:
        net.load_state_dict(weights)
    if trainer.ema is not None:
        trainer.ema.module.load_state_dict(trainer.generator.state_dict())
    loaded = "G and D start" if len(nets) == 2 else "G starts"
    print(
        f"ganforge: {loaded} from {model.source} (step {model.step})",
        file=stream or sys.stderr,
    )


def check_run_dir(config: Config, resuming: bool) -> Path:
    """Name the run (runs/<name>/); refuse to train over a finished or running one (creates
    nothing)."""
    if not config.name:
        config.name = default_run_name(config)
    run_dir = Path(config.out) / config.name
    RunLock(run_dir).check()  # a training running there: say so before any work
    if not resuming and (run_dir / "checkpoints" / "last.pt").exists():
        raise GanforgeError(
            "run directory already holds a trained run",
            str(run_dir),
            "pass --resume to continue it, or choose another --name",
        )
    return run_dir


class RunLock:
    """One training at a time per run directory: an exclusive lock on RUN/.lock.

    On POSIX an fcntl.flock, which the OS drops when the process ends, even on a crash (the file
    stays: unlinking a flock'ed file races with the next taker); elsewhere a file created with
    O_EXCL and removed on release. The file says who holds the lock (pid and host).
    """

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        """Take the lock, or raise one clear line naming who holds it; touches nothing else."""
        where = str(self.path.parent)
        flags = os.O_RDWR | os.O_CREAT | (0 if fcntl else os.O_EXCL)
        try:
            fd = os.open(self.path, flags, 0o644)
        except FileExistsError:
            raise self._busy(self._holder(), "or delete RUN/.lock if no training runs") from None
        except OSError as e:
            raise GanforgeError(
                f"cannot write the run directory ({e.strerror})", where, "choose another --out"
            ) from None
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.read(fd, 200).decode(errors="replace").strip()
                os.close(fd)
                raise self._busy(holder, "") from None
            os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode())
        self._fd = fd
        return self

    def check(self) -> None:
        """Raise if another training holds the lock now; creates nothing (train() takes it later)."""
        if fcntl is None:
            if self.path.exists():
                raise self._busy(self._holder(), "or delete RUN/.lock if no training runs")
            return
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:  # no lock file (or unreadable: acquire() will say so)
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            raise self._busy(os.read(fd, 200).decode(errors="replace").strip(), "") from None
        finally:
            os.close(fd)

    def _holder(self) -> str:
        try:
            return self.path.read_text(errors="replace").strip()
        except OSError:
            return ""

    def _busy(self, holder: str, extra: str) -> GanforgeError:
        fix = "wait for it to finish, or choose another --name" + (f" ({extra})" if extra else "")
        return GanforgeError(
            f"the run directory is in use by another training ({holder or 'another process'})",
            str(self.path.parent),
            fix,
        )

    def release(self) -> None:
        """Drop the lock (closing the file is enough for flock)."""
        if self._fd is None:
            return
        os.close(self._fd)
        self._fd = None
        if fcntl is None:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def open_run_dir(run_dir: Path) -> RunLock:
    """Create the run directory, lock it and check it is writable; the held lock."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise GanforgeError(
            f"cannot write the run directory ({e.strerror})", str(run_dir), "choose another --out"
        ) from None
    lock = RunLock(run_dir).acquire()
    try:
        check_writable(run_dir, folder=True, what="run directory", fix="choose another --out")
    except GanforgeError:
        lock.release()
        raise
    return lock


def _first_missing(path: Path) -> Path | None:
    """The outermost folder of `path` that does not exist yet (what mkdir(parents=True) makes)."""
    missing = None
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing = folder
    return missing


def _remove_untrained(run_dir: Path, created: Path | None, trainer: Trainer) -> None:
    """A run that failed before any training state exists leaves no folder behind: remove what
    this call created (run_dir and its new parents) when no step ran and no checkpoint exists.
    A folder that existed before is never touched."""
    if created is None or trainer.step > 0 or trainer.history:
        return
    checkpoints = run_dir / "checkpoints"
    if checkpoints.is_dir() and any(checkpoints.glob("*.pt")):
        return
    shutil.rmtree(run_dir, ignore_errors=True)
    folder = run_dir.parent
    while created in (folder, *folder.parents) and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


def config_from_checkpoint(path: str | Path) -> Config:
    """The config a checkpoint (or run directory) was trained with."""
    file = latest_checkpoint(path)
    return Config.from_dict(load_file(file)["config"], str(file))


def standard_callbacks(config: Config, run_dir: Path, quiet: bool, console: bool = True) -> list:
    """Console progress (unless not `console`), metrics.jsonl/TensorBoard, sample grids and
    checkpoints."""
    t = config.train
    logger = MetricsLogger(run_dir, t.tensorboard)
    callbacks = [ConsoleProgress(quiet)] if console else []
    callbacks += [logger, SampleGrid(run_dir, t.sample_every, logger=logger)]
    if config.eval.every > 0:
        callbacks.append(EvalCallback(config, logger))
    return callbacks + [Checkpointer(t.checkpoint_every)]


def train(
    config: Config,
    resume: str | Path | None = None,
    quiet: bool = False,
    callbacks: list | None = None,
    dataset=None,
) -> tuple[Path, dict[str, Any]]:
    """Train (or resume) a run on disk; returns (run directory, summary) (see `train_run`)."""
    trainer = train_run(config, resume, quiet, callbacks, dataset)
    return trainer.run_dir, trainer.summary


def train_in_memory(
    config: Config, dataset, family=None, quiet: bool = True, console=False, callbacks=None
):
    """Train without a run directory (nothing on disk); the fitted Trainer."""
    extra = ([ConsoleProgress(quiet)] if console else []) + list(callbacks or [])
    trainer = Trainer(config, None, dataset, extra, family)
    if config.train.init_from:  # fine-tuning in memory too
        init_weights(trainer, config.train.init_from)
    trainer.summary = trainer.fit()
    return trainer


def train_run(
    config: Config,
    resume: str | Path | None = None,
    quiet: bool = False,
    callbacks: list | None = None,
    dataset=None,
    family=None,
    resume_command: str | None = None,
    console: bool = True,
) -> Trainer:
    """Train (or resume) a run on disk; the fitted Trainer (`.run_dir`, `.summary`).

    `summary["failed"]`: None, or why the run FAILED (the health monitor's verdict: its
    generator is unusable; the run is saved all the same). Raises GanforgeError for a user
    mistake (exit code 2), a run stopped as hopeless (1), or an interrupt (130: SIGINT or
    SIGTERM; the state is checkpointed and the message says how to continue). The data and
    networks are built before the run directory is created, so a bad input leaves no folder; a
    second training into the same directory is refused while the first runs (RunLock).
    `family`: a ready Family (else built from the config); `resume_command`: what the interrupt
    message tells the user to run (default `ganforge train --resume RUN`); `console`: False
    prints no progress at all (library callers that asked for silence).
    """
    info = distributed.setup(resolve_device(config.train.device).type)
    if info.is_main:
        check_run_dir(config, resuming=resume is not None)
    # Every rank must write into the one directory rank 0 chose (its name holds a timestamp).
    config.name = distributed.broadcast_object(config.name)
    run_dir = Path(config.out) / config.name
    nothing = "nothing was written" if resume is None else "the run is unchanged"
    try:
        trainer = Trainer(config, run_dir, dataset=dataset, family=family)
        if resume is None and config.train.init_from:
            init_weights(trainer, config.train.init_from)
        if resume is not None:
            trainer.resume(latest_checkpoint(resume))
            if trainer.step >= config.train.steps:
                raise GanforgeError(
                    f"the run already has {trainer.step} steps",
                    str(run_dir),
                    "pass a larger --steps to train further",
                )
    except KeyboardInterrupt:
        raise GanforgeError(
            "interrupted before training started", str(run_dir), nothing, exit_code=130
        ) from None
    lock, created = None, None
    if info.is_main:
        created = _first_missing(run_dir)
        lock = open_run_dir(run_dir)
    distributed.barrier()
    try:
        trainer.resume_command = resume_command or f"ganforge train --resume {run_dir}"
        if trainer.dist.is_main:
            config.save(run_dir / "config.toml")
        trainer.callbacks = standard_callbacks(config, run_dir, quiet, console)
        trainer.callbacks += list(callbacks or [])
        summary = trainer.fit()
    except KeyboardInterrupt:  # before fit() took over the signals
        if info.is_main:
            _remove_untrained(run_dir, created, trainer)
        raise GanforgeError(
            "interrupted before training started", str(run_dir), nothing, exit_code=130
        ) from None
    except BaseException:
        if info.is_main:
            _remove_untrained(run_dir, created, trainer)
        raise
    finally:
        if lock is not None:
            lock.release()
    summary["run_dir"] = str(run_dir)
    trainer.summary = summary
    return trainer


def log_entries(run: Path, history: list[dict], kind: str) -> list[dict]:
    """The entries of one kind (health, eval) a run logged: metrics.jsonl keeps those after the
    last checkpoint too; a checkpoint file alone has its history."""
    log = run / "metrics.jsonl" if run.is_dir() else None
    if log is None or not log.is_file():
        return [h for h in history if h.get("kind") == kind]
    entries = []
    for line in log.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:  # a line cut short by a crash
            continue
        if isinstance(entry, dict) and entry.get("kind") == kind:
            entries.append(entry)
    return entries


def run_info(run_or_file: str | Path) -> dict[str, Any]:
    """What a run is and how far it got (`ganforge info`): family, data, steps, last losses,
    evaluations (last and best), health events and files."""
    from ganforge.training.evaluation import best_eval

    run = Path(run_or_file)
    if not run.exists():
        raise GanforgeError("no such run directory", str(run))
    ckpt = latest_checkpoint(run)
    state = load_file(ckpt)
    # Through Config: a hand-made or partial config gets the defaults, never a KeyError.
    cfg = Config.from_dict(state["config"], str(ckpt)).to_dict()
    history = state.get("history")
    history = [h for h in history if isinstance(h, dict)] if isinstance(history, list) else []
    evals = log_entries(run, history, "eval")
    info = {
        "run": str(run),
        "family": cfg["model"]["family"],
        "arch": cfg["model"]["arch"],
        "preset": cfg.get("preset", ""),
        "data": cfg["data"]["source"],
        "sample_shape": cfg["model"]["sample_shape"],
        "loss": cfg["train"]["loss"],
        "steps_done": state.get("step", 0),
        "steps_planned": cfg["train"]["steps"],
        "last_log": next((h for h in reversed(history) if "kind" not in h), {}),
        "evals": evals,
        "best_eval": best_eval(evals, cfg["eval"]["metrics"]),
        "health_events": log_entries(run, history, "health"),
    }
    if run.is_dir():
        info["files"] = {
            "config": str(run / "config.toml"),
            "checkpoints": sorted(p.name for p in (run / "checkpoints").glob("*.pt")),
            "samples": len(list((run / "samples").glob("*.png"))),
            "generator": str(run / "generator.pt") if (run / "generator.pt").exists() else None,
            "metrics": str(run / "metrics.jsonl"),
        }
    return info


def info_lines(info: dict[str, Any]) -> list[str]:
    """`run_info` for people, one fact a line."""
    from ganforge.training.evaluation import eval_line
    from ganforge.training.monitor import describe

    lines = [
        f"run        {info['run']}",
        f"model      {info['family']} / {info['arch']}  sample shape {info['sample_shape']}  "
        f"loss {info['loss']}" + (f"  preset {info['preset']}" if info["preset"] else ""),
        f"data       {info['data']}",
        f"steps      {info['steps_done']} of {info['steps_planned']}",
    ]
    last = info["last_log"]
    if last:
        keys = [k for k in ("d_loss", "g_loss", "d_acc_real", "d_acc_fake") if k in last]
        lines.append("last log   " + "  ".join(f"{k}={last[k]:.4f}" for k in keys))
    evals = info["evals"]
    if evals:
        lines.append(f"evals      {len(evals)}; last: {eval_line(evals[-1])}")
        if info["best_eval"] is not None:
            lines.append(f"best eval  {eval_line(info['best_eval'])}")
    for name, value in info.get("files", {}).items():
        lines.append(f"{name:<10} {value}")
    events = info["health_events"]
    lines.append(f"health     {len(events)} event(s)" if events else "health     no events")
    lines += [f"  {describe(event)}" for event in events]
    return lines


def relaunch_under_torchrun(argv: list[str], nproc: int) -> int:
    """`ganforge train --nproc N ...` == `torchrun --standalone --nproc-per-node N -m ganforge
    train ...` (without --nproc); the exit code of torchrun."""
    import subprocess
    import sys

    if nproc < 1:
        raise GanforgeError(f"--nproc must be positive, got {nproc}")
    argv = list(argv)
    i = argv.index("--nproc") if "--nproc" in argv else None
    if i is not None:
        del argv[i : i + 2]
    else:
        argv = [a for a in argv if not a.startswith("--nproc=")]
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={nproc}",
        "-m",
        "ganforge",
        *argv,
    ]
    return subprocess.call(cmd)


NEXT_STEP = {  # what to run next with a trained run, by family
    "srgan": "upscale {} input.png -o output.png",
    "pix2pix": "translate {} INPUT -o OUTPUT",
    "cyclegan": "translate {} INPUT -o OUTPUT",
}


def report_lines(
    config: Config, run_dir: Path, summary: dict[str, Any]
) -> tuple[list[str], GanforgeError | None]:
    """What `ganforge train` says after training: steps, time, last losses, the health verdict,
    where the run is and what to run next; or, for a run that FAILED, the error to exit with
    (code 1: its generator is unusable, what it made is kept)."""
    last = summary["last"]
    losses = "  ".join(f"{k}={last[k]:.4f}" for k in ("d_loss", "g_loss") if k in last)
    lines = [
        f"ganforge: trained {summary['new_steps']} steps (now {summary['steps']}) in "
        f"{summary['seconds']:.1f}s  {losses}"
    ]
    if "health" in summary:
        lines.append(f"ganforge: health: {summary['health']}")
    if summary.get("failed"):
        return lines, GanforgeError(
            f"the run FAILED: {summary['failed']}",
            str(run_dir),
            f"{summary['advice']} (what it made is kept: ganforge info {run_dir})",
            exit_code=1,
        )
    lines.append(f"ganforge: run saved to {run_dir}  (samples/, checkpoints/last.pt, generator.pt)")
    hint = NEXT_STEP.get(config.model.family, "sample {} -n 64 -o grid.png").format(run_dir)
    lines.append(f"ganforge: next: ganforge {hint}")
    return lines, None


def train_model(
    config: Config,
    dataset,
    family,
    run_dir: str | Path | None,
    resume: bool,
    command: str,
    quiet: bool = False,
    console: bool = True,
    callbacks: list | None = None,
):
    """An app model's fit (tabular, series) on the run layer: in memory, or in `run_dir`
    (created and locked only now: a bad input before leaves no folder); an interrupt says how to
    continue (`command` is the verb, e.g. `ganforge tabular fit`), or that nothing was kept.
    Returns the fitted Trainer."""
    from ganforge.training.loop import TrainingInterrupted

    if run_dir is None:
        try:
            return train_in_memory(config, dataset, family, quiet, console, callbacks)
        except TrainingInterrupted as e:
            raise GanforgeError(
                f"interrupted at step {e.step}",
                "in memory",
                "nothing was kept: fit again (--run-dir DIR keeps checkpoints --resume continues)",
                exit_code=130,
            ) from None
    return train_run(
        config,
        resume=run_dir if resume else None,
        quiet=quiet,
        callbacks=callbacks,
        dataset=dataset,
        family=family,
        resume_command=f"the same `{command}` --run-dir {run_dir} --resume",
        console=console,
    )
