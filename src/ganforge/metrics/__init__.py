"""Evaluation metrics: FID, KID, IS, precision/recall, density/coverage, memorization, diagnostics.

``evaluate`` runs one feature pass and every metric; the metric functions work on feature arrays.
``ganforge.metrics.modes`` (mode coverage on 2-D mixtures) is imported from its own module.
"""

from ganforge.metrics.diagnostics import class_diagnostics, class_histogram, entropy_bits
from ganforge.metrics.evaluate import METRICS, evaluate
from ganforge.metrics.features import extract, get_extractor
from ganforge.metrics.fid import feature_stats, fid, frechet_distance
from ganforge.metrics.inception_score import inception_score
from ganforge.metrics.kid import kid
from ganforge.metrics.memorization import memorization
from ganforge.metrics.prdc import density_coverage, prdc, precision_recall

__all__ = [
    "METRICS",
    "class_diagnostics",
    "class_histogram",
    "density_coverage",
    "entropy_bits",
    "evaluate",
    "extract",
    "feature_stats",
    "fid",
    "frechet_distance",
    "get_extractor",
    "inception_score",
    "kid",
    "memorization",
    "prdc",
    "precision_recall",
]
