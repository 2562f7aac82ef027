"""``evaluate``: one feature pass over fakes and reference feeds every metric (as stylegan2-ada).

The result records its protocol (extractor and weights hash, resize, N fake/ref, KID subsets,
k values) next to the values, so two numbers are only compared when their protocols match.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

import ganforge
from ganforge.data.dataset import InMemoryDataset
from ganforge.errors import GanforgeError
from ganforge.metrics.cache import FeatureKey, cached_features
from ganforge.metrics.diagnostics import class_diagnostics, class_histogram
from ganforge.metrics.features import Extractor, extract, get_extractor
from ganforge.metrics.fid import fid as fid_value
from ganforge.metrics.inception_score import DEFAULT_SPLITS, inception_score
from ganforge.metrics.kid import DEFAULT_SEED as KID_SEED
from ganforge.metrics.kid import DEFAULT_SUBSET_SIZE, DEFAULT_SUBSETS, kid
from ganforge.metrics.prdc import DC_K, PR_K, prdc
from ganforge.metrics.reference import Reference, resolve_reference

METRICS = ("fid", "kid", "is", "pr", "dc")
Source = torch.Tensor | np.ndarray | InMemoryDataset | nn.Module | Callable[[int], torch.Tensor]


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


def _check_metrics(metrics: Sequence[str]) -> tuple[str, ...]:
    if isinstance(metrics, str):
        metrics = [m.strip() for m in metrics.split(",") if m.strip()]
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise GanforgeError(f"unknown metrics {unknown or metrics}", fix=f"choose from {METRICS}")
    return tuple(dict.fromkeys(metrics))


def evaluate(
    generator_or_images: Source,
    reference: Reference = "mnist:test",
    metrics: Sequence[str] = METRICS,
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
) -> dict:
    """FID, KID, IS, precision/recall, density/coverage (+ class diagnostics) of fakes vs reference.

    ``generator_or_images``: images in [-1, 1] (N, C, H, W) (uint8 read as [0, 255]), a
    generator module with a ``latent_dim`` attribute (fed seeded N(0, I) latents), or a callable
    ``sample(batch_size) -> images`` (called with torch's global RNG seeded by ``seed``, then
    restored). ``reference``: ``mnist:test``, ``mnist:train``, a folder of images, an array or
    an InMemoryDataset; its first ``n_ref`` images (default min(n, its size)) are used and their
    features cached on disk. ``weights`` overrides the extractor's weights file (e.g. the
    Inception weights). Returns values, ``protocol`` and ``seconds``.
    """
    start = time.perf_counter()
    metrics = _check_metrics(metrics)
    timings: dict[str, float] = {}
    net = get_extractor(extractor, device=device, weights=weights)

    tick = time.perf_counter()
    ref = resolve_reference(reference, n_ref or n)
    available = ref.count
    if n_ref is None:
        n_ref = min(n, available) if n else available
    elif n_ref > available:
        raise GanforgeError(
            f"n_ref={n_ref} but the reference holds {available} images",
            ref.description,
            f"pass n_ref <= {available}",
        )
    key = FeatureKey(ref.dataset, ref.split, ref.resolution, net.name, net.fingerprint(), n_ref)
    ref_features, ref_logits, cache_hit = cached_features(
        key,
        lambda: extract(net, ref.images(), n_ref, batch_size, where=f"reference {ref.description}"),
        use_cache,
    )
    timings["reference_features"] = time.perf_counter() - tick

    tick = time.perf_counter()
    source = _fake_source(generator_or_images, seed, device)
    with _seeded_eval(generator_or_images, seed, device):
        fake_features, fake_logits = extract(net, source, n, batch_size, where="generated images")
    n_fake = int(fake_features.shape[0])
    timings["fake_features"] = time.perf_counter() - tick

    result: dict = {}
    if "fid" in metrics:
        tick = time.perf_counter()
        result["fid"] = fid_value(fake_features, ref_features)
        timings["fid"] = time.perf_counter() - tick
    if "kid" in metrics:
        tick = time.perf_counter()
        result["kid_mean"], result["kid_std"] = kid(
            fake_features, ref_features, kid_subsets, kid_subset_size, KID_SEED
        )
        timings["kid"] = time.perf_counter() - tick
    if "is" in metrics:
        if fake_logits is None:
            raise GanforgeError(
                f"the {net.name} extractor has no class logits, so no Inception Score",
                fix="drop 'is' from metrics or use the mnist/inception extractor",
            )
        tick = time.perf_counter()
        result["is_mean"], result["is_std"] = inception_score(fake_logits, DEFAULT_SPLITS)
        timings["is"] = time.perf_counter() - tick
    if "pr" in metrics or "dc" in metrics:
        tick = time.perf_counter()
        result.update(
            prdc(
                ref_features,
                fake_features,
                pr_k if "pr" in metrics else None,
                dc_k if "dc" in metrics else None,
            )
        )
        timings["prdc"] = time.perf_counter() - tick
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
    if "fid" in metrics:
        protocol["fid"] = "covariance over N-1; tr sqrt via eigh of S1^1/2 S2 S1^1/2"
    if "kid" in metrics:
        protocol["kid_subsets"] = kid_subsets
        protocol["kid_subset_size"] = kid_subset_size or min(DEFAULT_SUBSET_SIZE, n_fake, n_ref)
        protocol["kid_seed"] = KID_SEED
    if "is" in metrics:
        protocol["is_splits"] = DEFAULT_SPLITS
    if "pr" in metrics:
        protocol["pr_k"] = pr_k
    if "dc" in metrics:
        protocol["dc_k"] = dc_k
    if "pr" in metrics or "dc" in metrics:
        protocol["knn_ball"] = "closed (<=), Euclidean"
    if net.class_names:
        protocol["class_expected_share"] = "reference histogram under the same classifier"
    result["protocol"] = protocol
    result["timings"] = {k: round(v, 3) for k, v in timings.items()}
    result["seconds"] = time.perf_counter() - start
    return result
