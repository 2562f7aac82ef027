"""`ganforge eval` as a library call: what to compare (a run against its reference, or two image
sets), the default reference and extractor, the 2-D toy protocol, and the report lines."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganforge.errors import GanforgeError

JSON_FIX = "pass --json PATH somewhere writable"


@dataclass
class EvalOutcome:
    """The figures (`lines`, printed first), the result dict, and where its JSON goes."""

    lines: list[str] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)
    json_path: str | None = None


def default_json_path(run: str | Path, step: int) -> Path | None:
    """RUN/eval/eval_stepXXXXXXX.json for a run directory (None for a file)."""
    run = Path(run)
    return run / "eval" / f"eval_step{step:07d}.json" if run.is_dir() else None


def _check_json(path: str | None) -> None:
    from ganforge.io_checks import check_writable

    if path is not None and path != "-":
        check_writable(Path(path), what="JSON result", fix=JSON_FIX)


def evaluate_toy(model, n: int | None, seed: int) -> EvalOutcome:
    """2-D toy runs (ring, grid): modes recovered and high-quality share (VEEGAN protocol)."""
    import torch

    from ganforge.data import load_dataset
    from ganforge.metrics.modes import TOY_PROTOCOL, mode_coverage

    data = load_dataset(model.config.data.source)
    if "centers" not in data.meta:
        raise GanforgeError(
            "vector data without known modes: nothing to evaluate",
            model.config.data.source,
            "evaluate image runs instead",
        )
    n = n or 10_000
    result = mode_coverage(
        model.sample(n, seed=seed),
        torch.tensor(data.meta["centers"]),
        data.meta["std"],
    )
    result["protocol"] = {"n_fake": n, "seed": seed, **TOY_PROTOCOL}
    k = result["num_modes"]
    shares = " ".join(f"{share:.3f}" for share in result["shares"])
    lines = [
        f"evaluated  {model.source} (step {model.step}) on {model.config.data.source}",
        f"modes      {result['modes']} of {k}",
        f"high_quality {result['high_quality']:.4f}  (share within 3 std of a mode)",
        f"mode_kl    {result['mode_kl']:.4f}  KL(mode shares || uniform), nats (0 = balanced)",
        f"modes_under_half {result['modes_under_half']}  modes with < half their share "
        f"(1/{k} = {1 / k:.3f}; 0 is best)",
        f"shares     {shares}",
    ]
    return EvalOutcome(lines, result)


def _stacked_defaults() -> tuple[str, ...]:
    """A StackedMNIST run's metrics when none are named: its modes, then the default set."""
    from ganforge.metrics.evaluate import METRICS, TABLE

    defaults = (m for m in METRICS if TABLE[m].by_default and not TABLE[m].needs_logits)
    return ("stacked-modes", *defaults)


def evaluate_command(
    model: str | None = None,
    *,
    real: str | None = None,
    fake: str | None = None,
    metrics: str | None = None,
    n: int | None = None,
    ref: str | None = None,
    extractor: str | None = None,
    weights: str | None = None,
    seed: int = 0,
    device: str = "cpu",
    json_path: str | None = None,
) -> EvalOutcome:
    """Evaluate a run/generator against its reference (or --real/--fake image sets); every
    flag is checked before any work. The JSON is not written here (see EvalOutcome)."""
    from ganforge.metrics import evaluate
    from ganforge.metrics.compare import prepare_comparison
    from ganforge.metrics.evaluate import check_metrics, result_lines
    from ganforge.metrics.reference import default_extractor, default_reference

    chosen = check_metrics(metrics)
    if n is not None and n < 1:
        raise GanforgeError(f"-n must be >= 1, got {n}", fix="evaluate at least 1 image")
    if model and fake:
        raise GanforgeError(
            "--fake compares two image sets, not a run",
            f"{model} and --fake {fake}",
            "drop RUN_OR_FILE or --fake (--real/--ref set a run's reference)",
        )
    if model:
        from ganforge.sampling import load_generator

        trained = load_generator(model, device)
        if json_path is None:
            default = default_json_path(model, trained.step)
            json_path = str(default) if default is not None else None
        _check_json(json_path)
        if len(trained.config.model.sample_shape) == 1:
            outcome = evaluate_toy(trained, n, seed)
            outcome.json_path = json_path
            return outcome
        if chosen is None and trained.config.data.source.split(":")[0] == "stacked-mnist":
            chosen = _stacked_defaults()
        reference = ref or real or default_reference(trained.config)
        if not reference:  # the run's own training data
            from ganforge.data import load_dataset

            d = trained.config.data
            reference = load_dataset(d.source, d.resolution, d.channels, d.limit)
        if extractor:
            why = "--extractor"
        else:
            extractor, why = default_extractor(trained.config), "the run's default, as in training"
        source, n = trained.sampler(seed=seed), n or 10_000
        what = f"{trained.source} (step {trained.step})"
    elif real and fake:
        _check_json(json_path)
        plan = prepare_comparison(real, fake, extractor, weights)
        reference, source, what = plan.reference, plan.fake, fake
        extractor, why = plan.extractor, plan.why
    elif real or fake:
        given, missing = ("--real", "--fake") if real else ("--fake", "--real")
        raise GanforgeError(
            f"{given} needs {missing}", fix="ganforge eval --real REF --fake FAKES, or eval RUN"
        )
    else:
        raise GanforgeError("eval needs a RUN_OR_FILE, or both --real and --fake")
    result = evaluate(
        source,
        reference,
        chosen,
        n=n,
        extractor=extractor,
        seed=seed,
        device=device,
        weights=weights,
        extractor_choice=why,
    )
    p = result["protocol"]
    lines = [
        f"evaluated  {what}",
        f"protocol   extractor={p.get('extractor', extractor)} ({why})  n_fake={p['n_fake']}  "
        f"n_ref={p['n_ref']}  reference={p['reference']}",
    ]
    lines += [f"skipped    {name}: {reason}" for name, reason in p.get("skipped", {}).items()]
    lines += result_lines(result)
    lines.append(f"seconds    {result['seconds']:.1f}")
    return EvalOutcome(lines, result, json_path)
