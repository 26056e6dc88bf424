"""The search engine: plain Python, no IPython imports."""

from .automl import AutoML, available_models

__all__ = ["AutoML", "available_models"]
