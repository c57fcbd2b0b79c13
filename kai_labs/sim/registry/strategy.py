r"""Per-kind strategies: everything the registry knows about one kind, in one place.

kube-apiserver keeps each kind's behaviour in its own package (pkg/registry/<group>/<kind>/strategy.go:
PrepareForCreate, Validate, the defaulters registered in the scheme, the TableConvertor's columns),
found through one scheme. Here a kind module under ``registry/core/`` (``registry/<group>/`` for other
groups) builds a :class:`Strategy` and :func:`register`\ s it; this table is the one registration. The
generic registry (``generic.py``: defaults, PrepareForUpdate, validation, initial status, generation),
the printers (``apiserver/printers.py``) and discovery (``resources.py``: RESOURCES in the strategies'
``discovery_order``) consult it. A group package imports its modules with :func:`import_kinds`, and
``resources.py`` imports the group packages with :func:`import_groups`, so no list names the kinds.
Helpers several kinds share stay in ``validation.py``, ``defaults.py`` and ``table.py``.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..apimachinery.errors import FieldError
from .table import Column, RowPrinter

Obj = dict[str, Any]
Validator = Callable[[Obj, Obj | None], list[FieldError]]
Defaulter = Callable[[Obj], None]
UpdatePreparer = Callable[[Obj, Obj], None]


@dataclass(frozen=True)
class AdmissionConfig:
    """The API server's admission plugin flags (upstream's defaults), one per ``Api``: the
    DefaultTolerationSeconds plugin's --default-not-ready-toleration-seconds and
    --default-unreachable-toleration-seconds (plugin/pkg/admission/defaulttolerationseconds)."""

    default_not_ready_toleration_seconds: int = 300
    default_unreachable_toleration_seconds: int = 300


Admitter = Callable[[Obj, AdmissionConfig], None]

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = tuple(ALL_VERBS)
    # subresource name -> (kind it answers with, verbs)
    subresources: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> str:
        """Storage key: ``group/plural`` (``/pods`` for the core group)."""
        return f"{self.group}/{self.plural}"

    @property
    def list_kind(self) -> str:
        return self.kind + "List"


# -- strategic merge keys ---------------------------------------------------------------------------
# list path -> (patch strategy "merge"/"replace", merge key), from the Go struct tags (patchStrategy,
# patchMergeKey) of staging/src/k8s.io/api/core/v1/types.go and apimachinery/pkg/apis/meta/v1/types.go.
# A path is dotted from the object root; ``[]`` steps into the elements of a list. Paths not listed:
# maps merge, lists are replaced. ``apimachinery/patch.py`` adds OBJECT_META_PATCH_KEYS under
# ``metadata`` for every kind, then the kind's ``patch_keys``.
PatchKeys = dict[str, tuple[str, str]]
MERGE, REPLACE = "merge", "replace"

OBJECT_META_PATCH_KEYS: PatchKeys = {
    "finalizers": (MERGE, ""),            # patchStrategy:"merge" (primitives, a set)
    "ownerReferences": (MERGE, "uid"),
    "managedFields": (REPLACE, ""),
}
CONTAINER_PATCH_KEYS: PatchKeys = {
    "ports": (MERGE, "containerPort"),
    "env": (MERGE, "name"),
    "volumeMounts": (MERGE, "mountPath"),
    "volumeDevices": (MERGE, "devicePath"),
    "command": (REPLACE, ""),
    "args": (REPLACE, ""),
    "envFrom": (REPLACE, ""),
    "resizePolicy": (REPLACE, ""),
}
POD_SPEC_PATCH_KEYS: PatchKeys = {
    "volumes": (MERGE, "name"),           # merge,retainKeys
    "initContainers": (MERGE, "name"),
    "containers": (MERGE, "name"),
    "ephemeralContainers": (MERGE, "name"),
    "imagePullSecrets": (MERGE, "name"),
    "hostAliases": (MERGE, "ip"),
    "topologySpreadConstraints": (MERGE, "topologyKey"),
    "resourceClaims": (MERGE, "name"),    # merge,retainKeys
    "schedulingGates": (MERGE, "name"),
    "tolerations": (REPLACE, ""),
    "readinessGates": (REPLACE, ""),
}
for _c in ("initContainers", "containers", "ephemeralContainers"):
    POD_SPEC_PATCH_KEYS.update({f"{_c}[].{k}": v for k, v in CONTAINER_PATCH_KEYS.items()})
CONDITIONS_PATCH_KEYS: PatchKeys = {"conditions": (MERGE, "type")}


def patch_keys_at(prefix: str, keys: PatchKeys) -> PatchKeys:
    """``keys`` of a type embedded at ``prefix`` (a dotted path)."""
    return {f"{prefix}.{k}": v for k, v in keys.items()}


def pod_template_patch_keys(prefix: str) -> PatchKeys:
    """A PodTemplateSpec at ``prefix``: its metadata's and its pod spec's keys."""
    return {**patch_keys_at(f"{prefix}.metadata", OBJECT_META_PATCH_KEYS),
            **patch_keys_at(f"{prefix}.spec", POD_SPEC_PATCH_KEYS)}


def _no_defaults(obj: Obj) -> None:
    """Nothing to default."""


@dataclass(frozen=True)
class Strategy:
    resource: ResourceType
    # where discovery lists the kind (``kubectl api-resources``, ``kubectl get all``): ascending, and a
    # group is listed where its first kind is
    discovery_order: int
    # Validate (old None) / ValidateUpdate, after defaulting; the messages the API sends
    validate: Validator
    # the scheme's defaulter for the kind (SetDefaults_<Kind>), in place
    default: Defaulter = _no_defaults
    # PrepareForUpdate: bring the new object (in place) in step with the stored one, before defaulting
    prepare_update: UpdatePreparer | None = None
    # mutating admission that reads the API server's configuration (create and update, in place); it runs
    # just before ``default``, which may carry upstream's values of the same plugins for callers without
    # an API server: such a plugin must touch nothing the defaulter sets
    admit: Admitter | None = None
    # the status strategy's PrepareForUpdate resets only the spec (Service: pkg/registry/core/service/strategy.go
    # serviceStatusStrategy), so labels and annotations sent with a status write are kept; False: a status
    # write changes the status alone
    status_keeps_metadata: bool = False
    # PrepareForCreate: the status a new object starts with (None: whatever the client sent)
    initial_status: Obj | None = None
    # metadata.generation counts spec changes (Deployment, ReplicaSet, ...)
    track_generation: bool = False
    # the TableConvertor: server-side columns for kubectl get, and one row per object
    columns: list[Column] = field(default_factory=list)
    print_row: RowPrinter | None = None
    # strategic merge patch: the kind's list paths (see OBJECT_META_PATCH_KEYS above); metadata's own
    # lists are common to every kind and added by apimachinery/patch.py
    patch_keys: PatchKeys = field(default_factory=dict)


STRATEGIES: dict[str, Strategy] = {}


def register(strategy: Strategy) -> Strategy:
    STRATEGIES[strategy.resource.kind] = strategy
    return strategy


def strategy_for(kind: str) -> Strategy | None:
    return STRATEGIES.get(kind)


def import_kinds(package: str, path: Iterable[str]) -> None:
    """Import every module of an API group's package (``package``: its name, ``path``: its ``__path__``),
    so each registers its kind's strategy: a group's ``__init__`` finds its kinds without a list."""
    for info in sorted(pkgutil.iter_modules(path), key=lambda m: m.name):
        if not info.ispkg and not info.name.startswith("_"):
            importlib.import_module(f"{package}.{info.name}")


def import_groups(package: str, path: Iterable[str]) -> None:
    """Import every API group package under the registry (``core``, ``apps``, ``discovery``, ...)."""
    for info in sorted(pkgutil.iter_modules(path), key=lambda m: m.name):
        if info.ispkg and not info.name.startswith("_"):
            importlib.import_module(f"{package}.{info.name}")


def in_discovery_order() -> list[Strategy]:
    """Every registered strategy, in the order discovery lists the kinds."""
    return sorted(STRATEGIES.values(), key=lambda s: (s.discovery_order, s.resource.kind))
