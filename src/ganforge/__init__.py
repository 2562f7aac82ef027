"""ganforge: train, evaluate and use Generative Adversarial Networks."""

from ganforge.errors import GanforgeError

__version__ = "0.1.0"
__all__ = ["GanforgeError", "__version__"]
