"""skykernel: a Jupyter kernel whose process is a small skynet node."""

__version__ = "0.1.0"
