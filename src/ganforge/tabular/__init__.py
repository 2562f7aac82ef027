"""Synthetic tables: a conditional tabular GAN (CTGAN line) with DP, CSV in/out and a report.

`TabularGAN` (model.py) is the API; `transformer.py` encodes columns, `sampler.py` draws
conditional vectors, `dp.py` holds DP-SGD and the accountant, `report.py` measures fidelity,
utility and privacy, `io.py` reads and writes CSV with one-line errors.
"""

from ganforge.tabular.model import TabularGAN

__all__ = ["TabularGAN"]
