"""The apps kinds, one module each (see ``registry/core``)."""

from . import deployment

__all__ = ["deployment"]
