"""The apps kinds, one module each (see ``registry/core``)."""

from . import deployment, replicaset

__all__ = ["deployment", "replicaset"]
