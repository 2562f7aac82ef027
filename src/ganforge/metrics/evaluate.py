"""``evaluate``: one feature pass over fakes and reference feeds every metric (as stylegan2-ada).

The result records its protocol (extractor and weights hash, resize, N fake/ref, KID subsets,
k values) next to the values, so two numbers are only compared when their protocols match.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

import ganforge
from ganforge.data.dataset import InMemoryDataset
from ganforge.errors import GanforgeError
from ganforge.io_checks import atomic_write
from ganforge.metrics.cache import FeatureKey, cached_features
from ganforge.metrics.diagnostics import class_diagnostics, class_histogram
from ganforge.metrics.features import Extractor, extract, get_extractor, validate_images
from ganforge.metrics.fid import fid as fid_value
from ganforge.metrics.inception_score import DEFAULT_SPLITS, inception_score
from ganforge.metrics.kid import DEFAULT_SEED as KID_SEED
from ganforge.metrics.kid import DEFAULT_SUBSET_SIZE, DEFAULT_SUBSETS, kid
from ganforge.metrics.prdc import DC_K, PR_K, prdc
from ganforge.metrics.reference import Reference, resolve_reference

Source = torch.Tensor | np.ndarray | InMemoryDataset | nn.Module | Callable[[int], torch.Tensor]


@dataclass
class Pass:
    """What one feature pass gives every metric, with the settings the metrics read."""

    fake: torch.Tensor
    ref: torch.Tensor
    fake_logits: torch.Tensor | None
    net: Extractor
    metrics: tuple[str, ...]
    n_fake: int
    n_ref: int
    kid_subsets: int
    kid_subset_size: int | None
    pr_k: int
    dc_k: int
    # What was evaluated, for metrics that draw their own samples (stacked-modes).
    source: Source | None = None
    seed: int = 0
    device: str = "cpu"
    stacked_n: int = 0  # images stacked-modes classified
    _prdc: dict[str, float] | None = field(default=None, repr=False)

    def prdc(self) -> dict[str, float]:
        """Precision/recall and density/coverage (those asked for) from one k-NN pass."""
        if self._prdc is None:
            pr_k = self.pr_k if "pr" in self.metrics else None
            dc_k = self.dc_k if "dc" in self.metrics else None
            self._prdc = prdc(self.ref, self.fake, pr_k, dc_k)
        return self._prdc


@dataclass(frozen=True)
class Metric:
    """One metric of ``evaluate``: its values and its protocol, side by side.

    ``compute(pass) -> values`` and ``protocol(pass) -> entries``; ``notes`` are protocol
    entries shared with other metrics (written once, after every metric's own); ``timing``
    names the timer (shared by metrics computed together); ``needs_logits``: the extractor
    must give class logits (IS), else the metric is skipped, or an error when asked for;
    ``by_default``: computed when no metrics are named (else only when asked for);
    ``features``: reads the feature pass (stacked-modes classifies its own samples instead).
    """

    name: str
    title: str
    compute: Callable[[Pass], dict]
    protocol: Callable[[Pass], dict]
    notes: dict = field(default_factory=dict)
    timing: str = ""
    needs_logits: bool = False
    by_default: bool = True
    features: bool = True


def _kid(p: Pass) -> dict:
    mean, std = kid(p.fake, p.ref, p.kid_subsets, p.kid_subset_size, KID_SEED)
    return {"kid_mean": mean, "kid_std": std}


def _inception_score(p: Pass) -> dict:
    if p.fake_logits is None:  # num_classes promised logits the network did not return
        raise RuntimeError(f"the {p.net.name} extractor returned no logits")
    mean, std = inception_score(p.fake_logits, DEFAULT_SPLITS)
    return {"is_mean": mean, "is_std": std}


def _stacked_modes(p: Pass) -> dict:
    """StackedMNIST modes: each channel of 26,000 samples (or every image given, up to that)
    classified by the shipped MNIST classifier (metrics.modes)."""
    from ganforge.metrics.modes import STACKED_SAMPLES, stacked_mode_coverage

    source = _fake_source(p.source, p.seed, p.device)
    given = isinstance(source, (torch.Tensor, np.ndarray))
    p.stacked_n = min(p.n_fake, len(source)) if given else STACKED_SAMPLES
    with _seeded_eval(p.source, p.seed, p.device):
        result = stacked_mode_coverage(source, p.stacked_n, p.device)
    shown = {k: result[k] for k in ("modes", "mode_kl", "modes_under_half", "dependence_kl")}
    return {**shown, "digit_kl": sum(result["channel_kl"])}


def _stacked_protocol(p: Pass) -> dict:
    from ganforge.metrics.modes import stacked_protocol

    return stacked_protocol(p.stacked_n)


def _knn_metric(name: str, title: str, values: tuple[str, str]) -> Metric:
    """precision/recall (pr) or density/coverage (dc): two figures of the one shared k-NN pass."""
    return Metric(
        name,
        title,
        lambda p: {k: v for k, v in p.prdc().items() if k in values},
        lambda p: {f"{name}_k": getattr(p, f"{name}_k")},
        notes={"knn_ball": "closed (<=), Euclidean"},
        timing="prdc",
    )


# The metrics in the order they are computed and reported.
TABLE: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric(
            "fid",
            "FID",
            lambda p: {"fid": fid_value(p.fake, p.ref)},
            lambda p: {"fid": "covariance over N-1; tr sqrt via eigh of S1^1/2 S2 S1^1/2"},
        ),
        Metric(
            "kid",
            "KID",
            _kid,
            lambda p: {
                "kid_subsets": p.kid_subsets,
                "kid_subset_size": p.kid_subset_size or min(DEFAULT_SUBSET_SIZE, p.n_fake, p.n_ref),
                "kid_seed": KID_SEED,
            },
        ),
        Metric(
            "is",
            "Inception Score",
            _inception_score,
            lambda p: {
                "is_splits": DEFAULT_SPLITS,
                "is_split_bounds": "k*N//splits, no sample dropped, no shuffle (original code)",
                "is_logits": p.net.logits_note or "the extractor's class logits",
            },
            needs_logits=True,
        ),
        _knn_metric("pr", "precision/recall", ("precision", "recall")),
        _knn_metric("dc", "density/coverage", ("density", "coverage")),
        Metric(
            "stacked-modes",
            "StackedMNIST modes",
            _stacked_modes,
            _stacked_protocol,
            by_default=False,
            features=False,
        ),
    )
}
METRICS = tuple(TABLE)


def _fake_source(source: Source, seed: int, device: str) -> torch.Tensor | np.ndarray | Callable:
    """Images as given, or a sampler; modules with ``latent_dim`` get seeded N(0, I) latents."""
    if isinstance(source, InMemoryDataset):
        return source.data
    if isinstance(source, (torch.Tensor, np.ndarray)):
        return source
    if isinstance(source, nn.Module) and hasattr(source, "latent_dim"):
        # Latents drawn on the CPU from our own generator: the same images on any device.
        latents = torch.Generator().manual_seed(seed)

        def sample(batch_size: int) -> torch.Tensor:
            z = torch.randn(batch_size, int(source.latent_dim), generator=latents)
            return source(z.to(device))

        return sample
    if callable(source):
        return source
    raise GanforgeError(
        f"cannot evaluate a {type(source).__name__}",
        fix="pass images (N, C, H, W) in [-1, 1], a generator with latent_dim, "
        "or a callable sample(batch_size)",
    )


@contextlib.contextmanager
def _seeded_eval(source: Source, seed: int, device: str):
    """Global RNG seeded (then restored) and the generator in eval mode while sampling."""
    module = source if isinstance(source, nn.Module) else None
    was_training = module.training if module is not None else False
    cuda = [torch.device(device).index or 0] if torch.device(device).type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        if module is not None:
            module.eval()
        try:
            yield
        finally:
            if module is not None:
                module.train(was_training)


def check_metrics(metrics: Sequence[str] | str | None) -> tuple[str, ...] | None:
    """The metric names (a sequence or a comma list), checked; None means every one that fits.

    Call it before any work: an unknown name is one line listing the known ones.
    """
    if metrics is None:
        return None
    if isinstance(metrics, str):
        metrics = metrics.split(",")
    names = [str(m).strip().lower() for m in metrics if str(m).strip()]
    unknown = [m for m in names if m not in METRICS]
    if unknown:
        shown = ", ".join(repr(m) for m in unknown)
        raise GanforgeError(f"unknown metrics {shown}", fix=f"choose from {', '.join(METRICS)}")
    if not names:
        raise GanforgeError("no metrics given", fix=f"choose from {', '.join(METRICS)}")
    return tuple(dict.fromkeys(names))


def _supported(metrics: tuple[str, ...] | None, net: Extractor) -> tuple[tuple[str, ...], dict]:
    """The metrics to compute and those skipped (with why), checked against the extractor."""
    no_logits = f"the {net.name} extractor has no class logits"
    unfit = () if net.num_classes else tuple(m for m in METRICS if TABLE[m].needs_logits)
    if metrics is None:  # every metric this extractor supports (opt-in ones aside)
        chosen = tuple(m for m in METRICS if m not in unfit and TABLE[m].by_default)
        return chosen, {m: no_logits for m in unfit}
    for name in unfit:
        if name in metrics:
            raise GanforgeError(
                f"{no_logits}, so no {TABLE[name].title}",
                fix=f"drop '{name}' from the metrics or use the mnist or inception extractor",
            )
    return metrics, {}


def _check_counts(
    metrics: tuple[str, ...],
    n_fake: int,
    n_ref: int,
    kid_subsets: int,
    kid_subset_size: int | None,
    pr_k: int,
    dc_k: int,
) -> None:
    """What each metric needs from the sample counts, checked before any feature pass."""
    fix = "evaluate more images (n, --n) or drop the metric"
    if "is" in metrics and n_fake < DEFAULT_SPLITS:
        raise GanforgeError(
            f"Inception Score with {DEFAULT_SPLITS} splits needs at least {DEFAULT_SPLITS} "
            f"generated images, got {n_fake}",
            fix=fix,
        )
    if "kid" in metrics:
        n_min = min(n_fake, n_ref)
        if kid_subsets < 1:
            raise GanforgeError(f"KID needs kid_subsets >= 1, got {kid_subsets}")
        if kid_subset_size is not None and kid_subset_size > n_min:
            raise GanforgeError(
                f"KID subset size {kid_subset_size} exceeds the samples available "
                f"({n_fake} generated, {n_ref} reference)",
                fix=f"pass more samples or kid_subset_size <= {n_min}",
            )
        if (kid_subset_size or n_min) < 2:
            raise GanforgeError(f"KID needs at least 2 images per set, got {n_min}", fix=fix)
    for name, k in (("pr", pr_k), ("dc", dc_k)):
        if name not in metrics:
            continue
        if k < 1:
            raise GanforgeError(f"{name} needs k >= 1, got {k}")
        if min(n_fake, n_ref) < k + 1:
            raise GanforgeError(
                f"{name} with k={k} needs at least {k + 1} images per set, "
                f"got {n_fake} generated and {n_ref} reference",
                fix=fix,
            )


def _fake_count(source: Source, n: int | None) -> int:
    """How many generated images will be used; arrays are checked whole first."""
    if n is not None and n < 1:
        raise GanforgeError(f"n must be >= 1, got {n}", fix="evaluate at least one image")
    if isinstance(source, InMemoryDataset):
        source = source.data
    if isinstance(source, (torch.Tensor, np.ndarray)):
        validate_images(source, "generated images")
        total = len(source)
        if n is not None and n > total:
            raise GanforgeError(
                f"{n} images requested, {total} given",
                "generated images",
                f"pass at least {n} images or lower n",
            )
        return total if n is None else n
    if n is None:
        raise GanforgeError("drawing from a generator needs n >= 1 images", "generated images")
    return n


def evaluate(
    generator_or_images: Source,
    reference: Reference = "mnist:test",
    metrics: Sequence[str] | str | None = None,
    n: int | None = 10_000,
    extractor: str | Extractor = "mnist",
    batch_size: int | None = None,
    seed: int = 0,
    device: str = "cpu",
    n_ref: int | None = None,
    kid_subsets: int = DEFAULT_SUBSETS,
    kid_subset_size: int | None = None,
    pr_k: int = PR_K,
    dc_k: int = DC_K,
    weights: str | Path | None = None,
    use_cache: bool = True,
    extractor_choice: str | None = None,
) -> dict:
    """FID, KID, IS, precision/recall, density/coverage (+ class diagnostics) of fakes vs reference.

    ``generator_or_images``: images in [-1, 1] (N, C, H, W) (uint8 read as [0, 255]), a
    generator module with a ``latent_dim`` attribute (fed seeded N(0, I) latents), or a callable
    ``sample(batch_size) -> images`` (called with torch's global RNG seeded by ``seed``, then
    restored). ``n``: how many generated images (None: every image given). ``metrics``: names
    from ``METRICS``; None = every metric the extractor supports (IS needs class logits).
    ``reference``: ``mnist:test``, ``mnist:train``, a folder of images, an array or an
    InMemoryDataset; its first ``n_ref`` images (default min(n, its size)) are used and their
    features cached on disk. ``weights`` overrides the extractor's weights file (e.g. the
    Inception weights); ``extractor_choice`` (why this extractor) is recorded in the protocol.
    Every argument, array and metric need is checked before the first feature pass. Returns
    values, ``protocol`` and ``seconds``.
    """
    start = time.perf_counter()
    chosen = check_metrics(metrics)
    timings: dict[str, float] = {}
    net = get_extractor(extractor, device=device, weights=weights)
    metrics, skipped = _supported(chosen, net)
    n_fake = _fake_count(generator_or_images, n)

    if not any(TABLE[m].features for m in metrics):  # nothing reads the feature pass
        return _without_features(
            generator_or_images, metrics, n_fake, net, seed, device, extractor_choice, start
        )
    ref = resolve_reference(reference, n_ref or n_fake)
    available = ref.count
    if n_ref is None:
        n_ref = min(n_fake, available)
    elif n_ref < 1 or n_ref > available:
        raise GanforgeError(
            f"n_ref={n_ref} but the reference holds {available} images",
            ref.description,
            f"pass 1 <= n_ref <= {available}",
        )
    _check_counts(metrics, n_fake, n_ref, kid_subsets, kid_subset_size, pr_k, dc_k)

    tick = time.perf_counter()
    key = FeatureKey(
        ref.dataset, ref.split, ref.resolution, net.cache_name(), net.fingerprint(), n_ref
    )
    ref_features, ref_logits, cache_hit = cached_features(
        key,
        lambda: extract(net, ref.images(), n_ref, batch_size, where=f"reference {ref.description}"),
        use_cache,
    )
    timings["reference_features"] = time.perf_counter() - tick

    tick = time.perf_counter()
    source = _fake_source(generator_or_images, seed, device)
    with _seeded_eval(generator_or_images, seed, device):
        fake_features, fake_logits = extract(
            net, source, n_fake, batch_size, where="generated images"
        )
    n_fake = int(fake_features.shape[0])
    timings["fake_features"] = time.perf_counter() - tick

    features = Pass(
        fake=fake_features,
        ref=ref_features,
        fake_logits=fake_logits,
        net=net,
        metrics=metrics,
        n_fake=n_fake,
        n_ref=n_ref,
        kid_subsets=kid_subsets,
        kid_subset_size=kid_subset_size,
        pr_k=pr_k,
        dc_k=dc_k,
        source=generator_or_images,
        seed=seed,
        device=device,
    )
    chosen_metrics = [TABLE[m] for m in METRICS if m in metrics]
    result: dict = {}
    for metric in chosen_metrics:
        tick = time.perf_counter()
        result.update(metric.compute(features))
        timer = metric.timing or metric.name
        timings[timer] = timings.get(timer, 0.0) + time.perf_counter() - tick
    if net.class_names and fake_logits is not None and ref_logits is not None:
        expected = class_histogram(ref_logits, net.num_classes)
        result.update(class_diagnostics(fake_logits, expected, net.class_names))

    protocol = net.protocol()
    protocol.update(
        {
            "reference": ref.description,
            "n_fake": n_fake,
            "n_ref": n_ref,
            "reference_cache_hit": cache_hit,
            "seed": seed,
            "metrics": list(metrics),
            "ganforge": ganforge.__version__,
        }
    )
    if extractor_choice:
        protocol["extractor_choice"] = extractor_choice
    if skipped:
        protocol["skipped"] = skipped
    for metric in chosen_metrics:
        protocol.update(metric.protocol(features))
    for metric in chosen_metrics:
        protocol.update(metric.notes)
    if net.class_names:
        protocol["class_expected_share"] = "reference histogram under the same classifier"
    result["protocol"] = protocol
    result["timings"] = {k: round(v, 3) for k, v in timings.items()}
    result["seconds"] = time.perf_counter() - start
    return result


def _without_features(source, metrics, n_fake, net, seed, device, why, start) -> dict:
    """Metrics that draw and judge their own samples (stacked-modes): no reference, no features."""
    empty = torch.empty(0)
    features = Pass(
        fake=empty,
        ref=empty,
        fake_logits=None,
        net=net,
        metrics=metrics,
        n_fake=n_fake,
        n_ref=0,
        kid_subsets=0,
        kid_subset_size=None,
        pr_k=0,
        dc_k=0,
        source=source,
        seed=seed,
        device=device,
    )
    result: dict = {}
    timings: dict[str, float] = {}
    chosen = [TABLE[m] for m in METRICS if m in metrics]
    for metric in chosen:
        tick = time.perf_counter()
        result.update(metric.compute(features))
        timings[metric.name] = time.perf_counter() - tick
    protocol = {"seed": seed, "metrics": list(metrics), "ganforge": ganforge.__version__}
    if why:
        protocol["extractor_choice"] = why
    for metric in chosen:
        protocol.update(metric.protocol(features))
    result["protocol"] = protocol
    result["timings"] = {k: round(v, 3) for k, v in timings.items()}
    result["seconds"] = time.perf_counter() - start
    return result


def save_result(result: dict, path: str | Path) -> Path:
    """Write an ``evaluate`` result as JSON, atomically (temporary file + rename): a failed write
    never leaves a torn file. Raises OSError when the place cannot be written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2, default=str)
    with atomic_write(path) as f:
        f.write(text)
    return path


# What each reported figure means, for the console (README's metric section says more).
FIGURES = {
    "fid": "Frechet distance of feature means and covariances (lower is better, 0 = identical)",
    "kid_mean": "kernel inception distance, unbiased MMD^2 (lower is better; raw units, papers "
    "often print x1000)",
    "kid_std": "its spread over the subsets",
    "is_mean": "Inception Score over the splits (higher is better; max = number of classes)",
    "is_std": "its spread over the splits",
    "precision": "share of fakes inside the real data's k-NN balls (realism; higher is better)",
    "recall": "share of reals inside the fakes' k-NN balls (coverage of the data; higher)",
    "density": "mean count of real balls holding a fake, / k (about 1 when fakes look real)",
    "coverage": "share of reals whose nearest fake is inside their ball (higher is better)",
    "class_entropy_bits": "entropy of the classes the classifier sees in the fakes; the maximum, "
    "log2(classes) = {max_bits:.2f} bits, means every class equally often",
    "modes": "StackedMNIST modes (digit triples) holding at least one sample, of 1,000",
    "mode_kl": "KL(generated mode histogram || uniform) in nats (0 = every mode equally often)",
    "modes_under_half": "modes generated less than half as often as 1/1,000 (0 is best)",
    "digit_kl": "mode_kl's part from each channel's digits alone: the sum over R, G, B of "
    "KL(digit histogram || uniform over 10)",
    "dependence_kl": "the rest of mode_kl: the channels' total correlation (channels drawn "
    "together), which holds the sampling floor of ~(K-1)/2N = 0.019 at 26,000 samples",
    "classes_under_half": "classes generated less than half as often as {expected} (0 is "
    "best; a dropped class is a sign of mode collapse){names}",
}


def result_lines(result: dict) -> list[str]:
    """One console line per reported figure: name, value, and what it means."""
    by_reference = "reference" in str(result.get("protocol", {}).get("class_expected_share", ""))
    fill = {
        "expected": "in the reference (same classifier)" if by_reference else "1/classes",
        "max_bits": result.get("class_entropy_max_bits", float("nan")),
        "names": (
            f": {', '.join(map(str, result['classes_under_half_names']))}"
            if result.get("classes_under_half_names")
            else ""
        ),
    }
    return [
        f"{key:<20} {result[key]:>10.4f}  {meaning.format(**fill)}"
        for key, meaning in FIGURES.items()
        if key in result
    ]
