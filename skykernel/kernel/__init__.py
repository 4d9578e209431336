"""The Jupyter kernel: a thin client of the node (layer 3)."""

from .kernel import SkynetKernel

__all__ = ["SkynetKernel"]
