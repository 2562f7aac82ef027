"""The `ganforge series ...` verb group: each verb module adds its parser to the group and sets
`series_run` (its run function) as a default, so `run` needs no table. Parsing only at import."""

from __future__ import annotations

from ganforge.apps.series_fit import add_fit, add_sample
from ganforge.apps.series_report import add_report


def add_series_parser(sub) -> None:
    """`series` and its verbs (registered by cli.build_parser through apps/commands.VERBS)."""
    p = sub.add_parser(
        "series",
        help="synthetic time series: fit, sample (--where), report (TimeGAN scores, privacy)",
        description="Sequences (issue 20): multivariate series, CSV in, CSV out.",
    )
    verbs = p.add_subparsers(dest="series_verb", metavar="VERB", required=True)
    add_fit(verbs)
    add_sample(verbs)
    add_report(verbs)


def run(args) -> int:
    return args.series_run(args)
