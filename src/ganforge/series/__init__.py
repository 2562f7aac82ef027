"""Synthetic sequences: windows of a long table (data) and the TimeSeriesGAN (model).

`TimeSeriesGAN` is imported on first use, so `ganforge.series.data` and the metrics modules load
without torch's import cost.
"""

__all__ = ["TimeSeriesGAN"]


def __getattr__(name: str):
    if name == "TimeSeriesGAN":
        from ganforge.series.model import TimeSeriesGAN

        return TimeSeriesGAN
    raise AttributeError(f"module 'ganforge.series' has no attribute {name!r}")
