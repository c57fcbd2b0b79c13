"""The networking.k8s.io/v1 kinds, one module each; every module here is imported and registers its
kind's :class:`~kai_labs.sim.registry.strategy.Strategy` (see ``registry/core``)."""

from ..strategy import import_kinds

import_kinds(__name__, __path__)
