"""The discovery.k8s.io kinds, one module each (see ``registry/core``)."""

from . import endpointslice

__all__ = ["endpointslice"]
