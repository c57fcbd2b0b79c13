"""The core (v1) kinds that carry their own strategy, one module each. Adding a kind: a module here
(or under ``registry/<group>/``) that registers a :class:`~kai_labs.sim.registry.strategy.Strategy`,
imported below, and its place in ``resources.RESOURCES`` (discovery order)."""

from . import configmap, endpoints, event, namespace, node, pod, service, serviceaccount

__all__ = ["configmap", "endpoints", "event", "namespace", "node", "pod", "service", "serviceaccount"]
