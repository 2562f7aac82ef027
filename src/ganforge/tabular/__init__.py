"""Synthetic tables: a conditional tabular GAN (CTGAN line) with DP, CSV in/out and a report.

`TabularGAN` (model.py) is the API; `transformer.py` encodes columns, `sampler.py` draws
conditional vectors, `dp.py` holds DP-SGD and the accountant, `report.py` measures fidelity,
utility and privacy, `io.py` reads and writes CSV with one-line errors.
"""

__all__ = ["TabularGAN"]


def __getattr__(name: str):
    # lazy: reading a CSV (tabular.io) must not wait for torch to import
    if name == "TabularGAN":
        from ganforge.tabular.model import TabularGAN

        return TabularGAN
    raise AttributeError(f"module 'ganforge.tabular' has no attribute {name!r}")
