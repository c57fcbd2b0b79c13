"""The core (v1) kinds, one module each; every module here is imported and registers its kind's
:class:`~kai_labs.sim.registry.strategy.Strategy`.

Adding a kind: a module here (or in ``registry/<group>/``, a package like this one) that builds its
``Strategy`` (resource type, discovery order, defaulter, validation, initial status, generation,
printer columns, strategic-merge keys) and ``register``\\ s it. Nothing else names the kind.
"""

from ..strategy import import_kinds

import_kinds(__name__, __path__)
