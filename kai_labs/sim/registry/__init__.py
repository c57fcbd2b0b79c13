"""The registry: resource types, per-kind strategies, defaults, validation, the generic store.

Importing it registers the kinds' strategies (``core``), so any consumer sees every kind."""

from . import resources

__all__ = ["resources"]
