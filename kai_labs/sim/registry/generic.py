"""The API's semantics, in process: create, update, patch, delete, get, list.

Every writer goes through here: HTTP clients (via apiserver.py) and the
controllers alike, so defaulting, validation, allocation, optimistic
concurrency and garbage collection behave the same for all of them, as in
kube-apiserver's generic registry (staging/src/k8s.io/apiserver/pkg/registry/generic/registry/store.go).
"""

from __future__ import annotations

import builtins
import datetime as dt
import ipaddress
from collections.abc import Callable
from typing import Any

from ...k8s import labels
from ..apimachinery import errors, patch, schema
from ..storage.store import Obj, Store, clone
from . import defaults, validation
from .allocators import SERVICE_CIDR, Ids
from .resources import ResourceType, by_kind, by_name, by_plural, storage_key
from .strategy import AdmissionConfig, strategy_for

# default, kube-system and kube-public are NamespaceLifecycle's immortal namespaces; kube-node-lease is
# not (kube-apiserver's system-namespaces controller recreates it within a minute), but nothing here
# recreates it, so it is kept from deletion too
IMMORTAL_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})
DNS_IP = "10.96.0.10"
DEFAULT_SERVICE_ACCOUNT = "default"
SERVICE_ACCOUNT_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"


def token_volume_source() -> Obj:
    """The projected volume the ServiceAccount admission plugin mounts (admission.go TokenVolumeSource): a
    bound token valid 3607 s (serviceaccount.WarnOnlyBoundTokenExpirationSeconds), the cluster CA from
    kube-root-ca.crt and the Pod's namespace, mode 0644 (420) set explicitly."""
    return {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                                    "path": "namespace"}]}}]}
KUBERNETES_IP = "10.96.0.1"


def now_iso(clock: Callable[[], float]) -> str:
    return dt.datetime.fromtimestamp(clock(), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def rt_of(kind: str, api_version: str = "") -> ResourceType:
    rt = by_kind(api_version, kind) if api_version else by_name(kind)
    if rt is None:
        raise KeyError(kind)
    return rt


def _tracks_generation(kind: str) -> bool:
    strategy = strategy_for(kind)
    return strategy is not None and strategy.track_generation


def _has_spec_change(old: Obj, new: Obj) -> bool:
    return old.get("spec") != new.get("spec")


class Api:
    """Storage semantics over a Store. Synchronous: callers run on the event loop."""

    def __init__(self, store: Store, ids: Ids, clock: Callable[[], float],
                 admission: AdmissionConfig | None = None, *, service_accounts: bool = False) -> None:
        """``service_accounts``: the ServiceAccount admission plugin is on (kube-apiserver's default; the
        embedded cluster turns it on). Off, as with ``--disable-admission-plugins=ServiceAccount``, Pods
        are created without a ServiceAccount check or token volume: for an Api driven without the
        controllers that make each namespace's ``default`` ServiceAccount."""
        self.service_accounts = service_accounts
        self.store = store
        self.ids = ids
        self.clock = clock
        self.admission = admission if admission is not None else AdmissionConfig()

    def _admit(self, kind: str, obj: Obj) -> None:
        """The kind's configured mutating admission (DefaultTolerationSeconds for Pods)."""
        strategy = strategy_for(kind)
        if strategy is not None and strategy.admit is not None:
            strategy.admit(obj, self.admission)

    # -- helpers -------------------------------------------------------------
    def now(self) -> str:
        return now_iso(self.clock)

    def key(self, rt: ResourceType) -> str:
        return storage_key(rt)

    def get(self, rt: ResourceType, ns: str, name: str) -> Obj:
        obj = self.store.get(self.key(rt), ns if rt.namespaced else "", name)
        if obj is None:
            raise errors.not_found(rt.plural, name, rt.group)
        return obj

    def try_get(self, kind: str, ns: str, name: str) -> Obj | None:
        return self.store.get(self.key(rt_of(kind)), ns, name)

    def list(self, rt: ResourceType, ns: str | None, label_selector: str = "",
             field_selector: str = "") -> list[Obj]:
        try:
            lsel = labels.parse_selector(label_selector) if label_selector else None
        except ValueError as e:
            raise errors.bad_request(f"unable to parse requirement: {e}" if "unable to parse" not in str(e)
                                     else str(e)) from None
        fsel = None
        if field_selector:
            try:
                fsel = labels.parse_field_selector(field_selector)
            except ValueError as e:
                raise errors.bad_request(str(e)) from None
            bad = labels.validate_field_selector(rt.kind, fsel)
            if bad:
                raise errors.bad_request(bad)
        out = []
        for obj in self.store.iter(self.key(rt), ns if rt.namespaced else None):
            if storage_key(rt) == "/events" and rt.group and obj.get("apiVersion") != rt.api_version:
                pass
            if lsel is not None and not lsel.matches(obj["metadata"].get("labels") or {}):
                continue
            if fsel is not None and not fsel.matches(obj):
                continue
            out.append(clone(obj))
        return out

    def _check_namespace(self, rt: ResourceType, ns: str, name: str, creating: bool) -> None:
        if not rt.namespaced:
            return
        nso = self.store.peek("/namespaces", "", ns)
        if nso is None:
            raise errors.not_found("namespaces", ns)
        if creating and nso.get("metadata", {}).get("deletionTimestamp"):
            raise errors.ApiError(
                403, "Forbidden",
                f"{errors.qualified_resource(rt.plural, rt.group)} \"{name}\" is forbidden: unable to create new "
                f"content in namespace {ns} because it is being terminated",
                {"name": name, "group": rt.group, "kind": rt.plural} if rt.group else
                {"name": name, "kind": rt.plural},
            )

    def _decode_check(self, rt: ResourceType, obj: Obj, field_validation: str | None) -> builtins.list[str]:
        """Strict decoding; returns warnings for fieldValidation=Warn. None: an internal write, not decoded."""
        if field_validation is None:
            return []
        if field_validation == "Ignore":
            err = schema.check(rt.api_version, rt.kind, obj)
            if err and err.type_error:
                raise errors.bad_request(f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
                                         f"{err.type_error}")
            return []
        err = schema.check(rt.api_version, rt.kind, obj)
        if err is None:
            return []
        if err.type_error or field_validation == "Strict":
            raise errors.bad_request(f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
                                     f"{err.text()}")
        return [f'unknown field "{u}"' for u in err.unknown]

    # -- create --------------------------------------------------------------
    def create(self, rt: ResourceType, ns: str, obj: Obj, *, dry_run: bool = False,
               field_validation: str | None = None) -> Obj:
        if not isinstance(obj, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        obj = clone(obj)
        warnings = self._decode_check(rt, obj, field_validation)
        obj.setdefault("apiVersion", rt.api_version)
        obj.setdefault("kind", rt.kind)
        if obj.get("kind") != rt.kind or obj.get("apiVersion") != rt.api_version:
            raise errors.bad_request(
                f'the API version in the data ({obj.get("apiVersion")}) does not match the expected API version '
                f'({rt.api_version})' if obj.get("apiVersion") != rt.api_version else
                f"the kind in the data ({obj.get('kind')}) does not match the expected kind ({rt.kind})")
        md = obj.setdefault("metadata", {})
        if not isinstance(md, dict):
            raise errors.bad_request("metadata must be an object")
        if rt.namespaced:
            body_ns = md.get("namespace")
            if body_ns and body_ns != ns:
                raise errors.bad_request("the namespace of the provided object does not match the namespace sent "
                                         "on the request")
            md["namespace"] = ns
        else:
            md.pop("namespace", None)
        key = self.key(rt)
        store_ns = ns if rt.namespaced else ""
        generate_name = md.get("generateName") if not md.get("name") else None
        if not md.get("name") and md.get("generateName"):
            prefix = str(md["generateName"])
            md["name"] = prefix + self.ids.suffix(store_ns, prefix,
                                                  lambda n: self.store.peek(key, store_ns, n) is not None)
        name = md.get("name") or ""
        for k in ("resourceVersion", "uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                  "selfLink"):
            md.pop(k, None)
        self._prepare_create(rt, obj)
        if rt.kind == "Pod" and self.service_accounts:  # mutating admission: NamespaceLifecycle, ServiceAccount
            self._check_namespace(rt, ns, name, creating=True)
            self._admit_service_account(obj, ns, str(generate_name or md.get("name") or ""))
        self._admit(rt.kind, obj)
        defaults.apply_defaults(rt.kind, obj)
        errs = validation.validate(rt.kind, obj, None)
        if errs:
            raise errors.invalid_object(rt.kind, rt.group, name, errs)
        self._check_namespace(rt, ns, name, creating=True)
        if self.store.peek(key, store_ns, name) is not None:
            raise errors.already_exists(rt.plural, name, rt.group)
        self._allocate(rt, obj, None, dry_run)
        if dry_run:
            md["uid"] = "00000000-0000-0000-0000-000000000000"
            md["creationTimestamp"] = self.now()
            obj["__warnings__"] = warnings
            return obj
        md["uid"] = self.ids.uid(key, store_ns, name)
        md["creationTimestamp"] = self.now()
        if _tracks_generation(rt.kind):
            md["generation"] = 1
        stored = self.store.put(key, obj, "ADDED")
        if warnings:
            stored["__warnings__"] = warnings
        return stored

    def service_account_missing(self, ns: str, pod: Any) -> str | None:
        """The ServiceAccount a Pod about to be created names that does not exist (None: it exists, or the
        body names none that could be looked up)."""
        spec = pod.get("spec") if isinstance(pod, dict) else None
        if not isinstance(spec, dict) or not self.service_accounts:
            return None
        sa = spec.get("serviceAccountName") or spec.get("serviceAccount") or DEFAULT_SERVICE_ACCOUNT
        if not isinstance(sa, str) or self.store.peek("/serviceaccounts", ns, sa) is not None:
            return None
        return sa

    def _admit_service_account(self, pod: Obj, ns: str, display_name: str) -> None:
        """The ServiceAccount admission plugin on a Pod's create (plugin/pkg/admission/serviceaccount/
        admission.go Admit): serviceAccountName defaults to ``default``; a ServiceAccount that does not
        exist is 403 Forbidden "error looking up service account <ns>/<name>: serviceaccount "<name>" not
        found" (the Pod named by its generateName when it has no name yet, as extractResourceName does);
        unless the Pod or its ServiceAccount sets automountServiceAccountToken false (the Pod's setting
        wins), the ``kube-api-access-<5>`` projected volume (token, kube-root-ca.crt's ca.crt, the
        namespace) is added and mounted read-only at /var/run/secrets/kubernetes.io/serviceaccount in every
        container and init container that has nothing mounted there."""
        spec = pod.get("spec")
        if not isinstance(spec, dict):
            return
        sa_name = spec.get("serviceAccountName") or spec.get("serviceAccount") or DEFAULT_SERVICE_ACCOUNT
        if not isinstance(sa_name, str):
            return  # validation says what is wrong with it
        spec["serviceAccountName"] = sa_name
        sa = self.store.peek("/serviceaccounts", ns, sa_name)
        if sa is None:
            raise errors.ApiError(
                403, "Forbidden",
                (f'pods "{display_name}" is forbidden: ' if display_name else "pods is forbidden: ")
                + f'error looking up service account {ns}/{sa_name}: serviceaccount "{sa_name}" not found',
                {"name": display_name, "kind": "pods"} if display_name else {"kind": "pods"})
        automount = spec.get("automountServiceAccountToken")
        if automount is None:
            automount = sa.get("automountServiceAccountToken")
        if automount is False:
            return
        containers: builtins.list[Obj] = []
        for key in ("initContainers", "containers"):
            group = spec.get(key)
            if isinstance(group, builtins.list):
                containers.extend(c for c in group if isinstance(c, dict))
        raw_volumes = spec.get("volumes")
        volumes: builtins.list[Any] = raw_volumes if isinstance(raw_volumes, builtins.list) else []
        if any(isinstance(m, dict) and m.get("mountPath") == SERVICE_ACCOUNT_MOUNT_PATH
               for c in containers for m in (c.get("volumeMounts") or [])):
            return  # mounted by hand: the plugin leaves such a Pod alone
        taken = {v.get("name") for v in volumes if isinstance(v, dict)}
        vol_name = "kube-api-access-" + self.ids.suffix(ns, "kube-api-access-",
                                                        lambda n: n in taken)
        spec["volumes"] = [*volumes, {"name": vol_name, "projected": token_volume_source()}]
        for c in containers:
            raw_mounts = c.get("volumeMounts")
            mounts: builtins.list[Any] = raw_mounts if isinstance(raw_mounts, builtins.list) else []
            c["volumeMounts"] = [*mounts, {"name": vol_name, "readOnly": True,
                                           "mountPath": SERVICE_ACCOUNT_MOUNT_PATH}]

    def _prepare_create(self, rt: ResourceType, obj: Obj) -> None:
        """PrepareForCreate: the status the kind's strategy starts a new object with."""
        strategy = strategy_for(rt.kind)
        if strategy is not None and strategy.initial_status is not None:
            obj["status"] = clone(strategy.initial_status)

    # -- allocation ------------------------------------------------------------
    def _used_cluster_ips(self) -> set[str]:
        used = set()
        for s in self.store.iter("/services"):
            for ip in s.get("spec", {}).get("clusterIPs") or []:
                used.add(ip)
        return used

    def _used_node_ports(self) -> set[int]:
        used = set()
        for s in self.store.iter("/services"):
            for p in s.get("spec", {}).get("ports") or []:
                if p.get("nodePort"):
                    used.add(int(p["nodePort"]))
        return used

    def _allocate(self, rt: ResourceType, obj: Obj, old: Obj | None, dry_run: bool) -> None:
        if rt.kind != "Service":
            return
        spec = obj.setdefault("spec", {})
        md = obj["metadata"]
        stype = spec.get("type", "ClusterIP")
        path_ns = md.get("namespace", "")
        if stype == "ExternalName":
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
        else:
            ip = spec.get("clusterIP") or (spec.get("clusterIPs") or [None])[0]
            if old is not None and not ip:
                ip = old.get("spec", {}).get("clusterIP")
            if ip and ip != "None":
                same = old is not None and old.get("spec", {}).get("clusterIP") == ip
                if not same:
                    try:
                        addr = ipaddress.ip_address(ip)
                    except ValueError:
                        addr = None
                    if addr is None or addr not in SERVICE_CIDR:
                        raise errors.invalid_object("Service", "", md["name"], [errors.invalid(
                            "spec.clusterIPs", [ip],
                            f"failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid range. "
                            f"The range of valid IPs is {SERVICE_CIDR}")])
                    if ip in self._used_cluster_ips():
                        raise errors.invalid_object("Service", "", md["name"], [errors.invalid(
                            "spec.clusterIPs", [ip],
                            f"failed to allocate IP {ip}: provided IP is already allocated")])
            elif not ip:
                ip = self.ids.pick_service_ip(SERVICE_CIDR, self._used_cluster_ips() | {KUBERNETES_IP, DNS_IP},
                                              path_ns, md["name"])
            spec["clusterIP"] = ip
            spec["clusterIPs"] = [ip]
        want_node_ports = stype == "NodePort" or (
            stype == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts", True))
        used = self._used_node_ports()
        old_ports = {}
        if old is not None:
            for p in old.get("spec", {}).get("ports") or []:
                if p.get("nodePort"):
                    old_ports[(p.get("port"), p.get("protocol", "TCP"))] = int(p["nodePort"])
                    used.discard(int(p["nodePort"]))
        errs = []
        for i, p in enumerate(spec.get("ports") or []):
            np = p.get("nodePort")
            if not want_node_ports:
                if stype in ("ClusterIP", "ExternalName"):
                    p.pop("nodePort", None)
                continue
            if np:
                lo, hi = 30000, 32767
                if not lo <= int(np) <= hi:
                    errs.append(errors.invalid(f"spec.ports[{i}].nodePort", int(np),
                                               "provided port is not in the valid range. The range of valid ports "
                                               "is 30000-32767"))
                    continue
                if int(np) in used:
                    errs.append(errors.invalid(f"spec.ports[{i}].nodePort", int(np),
                                               "provided port is already allocated"))
                    continue
            else:
                np = old_ports.get((p.get("port"), p.get("protocol", "TCP"))) or self.ids.pick_port(
                    used, path_ns, md["name"], p.get("port"), p.get("protocol", "TCP"))
            p["nodePort"] = int(np)
            used.add(int(np))
        if errs:
            raise errors.invalid_object("Service", "", md["name"], errs)

    # -- update ----------------------------------------------------------------
    def update(self, rt: ResourceType, ns: str, name: str, obj: Obj, *, subresource: str = "",
               dry_run: bool = False, field_validation: str | None = None, force_rv: bool = False) -> Obj:
        if not isinstance(obj, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        key = self.key(rt)
        store_ns = ns if rt.namespaced else ""
        old = self.store.get(key, store_ns, name)
        if old is None:
            raise errors.not_found(rt.plural, name, rt.group)
        obj = clone(obj)
        if subresource != "status":
            self._decode_check(rt, obj, field_validation)
        md = obj.setdefault("metadata", {})
        if not isinstance(md, dict):
            raise errors.bad_request("metadata must be an object")
        if md.get("name") and md["name"] != name:
            raise errors.bad_request(f"the name of the object ({md['name']!s}) does not match the name on the URL "
                                     f"({name!s})")
        rv = md.get("resourceVersion")
        if rv and str(rv) != old["metadata"]["resourceVersion"]:
            raise errors.conflict(rt.plural, name, rt.group)
        obj["apiVersion"] = rt.api_version
        obj["kind"] = rt.kind
        md["name"] = name
        if rt.namespaced:
            md["namespace"] = ns
        if subresource == "status":
            new = clone(old)
            new["status"] = obj.get("status", {})
            strategy = strategy_for(rt.kind)
            if strategy is not None and strategy.status_keeps_metadata:
                for k in ("labels", "annotations"):
                    if md.get(k):
                        new["metadata"][k] = md[k]
                    else:
                        new["metadata"].pop(k, None)
        else:
            new = obj
            if rt.kind not in ("Namespace",) and "status" in old:
                new["status"] = old["status"]  # main resource ignores status changes
            for k in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"):
                if k in old["metadata"]:
                    md[k] = old["metadata"][k]
                else:
                    md.pop(k, None)
            strategy = strategy_for(rt.kind)
            if strategy is not None and strategy.prepare_update is not None:
                strategy.prepare_update(new, old)
            self._admit(rt.kind, new)
            defaults.apply_defaults(rt.kind, new)
            errs = validation.validate(rt.kind, new, old)
            if errs:
                raise errors.invalid_object(rt.kind, rt.group, name, errs)
            self._allocate(rt, new, old, dry_run)
            if _tracks_generation(rt.kind) and _has_spec_change(old, new):
                md["generation"] = int(old["metadata"].get("generation", 1)) + 1
        if dry_run:
            return new
        if new == old:
            return old
        # A terminating object whose last finalizer is removed goes away.
        nmd = new["metadata"]
        if nmd.get("deletionTimestamp") and not nmd.get("finalizers") and rt.kind != "Pod":
            self.store.remove(key, store_ns, name)
            return new
        return self.store.put(key, new, "MODIFIED")

    def patch(self, rt: ResourceType, ns: str, name: str, patch_type: str, body: Any, *,
              subresource: str = "", dry_run: bool = False, field_validation: str | None = None) -> Obj:
        old = self.get(rt, ns, name)
        try:
            if patch_type == "application/json-patch+json":
                if not isinstance(body, list):
                    raise errors.bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
                new = patch.json_patch(old, body)
            elif patch_type == "application/merge-patch+json":
                if not isinstance(body, dict):
                    raise errors.bad_request(
                        "json: cannot unmarshal array into Go value of type map[string]interface {}")
                new = patch.merge_patch(old, body)
            elif patch_type == "application/strategic-merge-patch+json":
                if not isinstance(body, dict):
                    raise errors.bad_request(
                        "json: cannot unmarshal array into Go value of type map[string]interface {}")
                new = patch.strategic_merge(rt.kind, old, body)
            elif patch_type == "application/apply-patch+yaml":
                if not isinstance(body, dict):
                    raise errors.bad_request("error decoding YAML: the apply patch must be an object")
                new = patch.merge_patch(old, body)
            else:
                raise errors.ApiError(415, "UnsupportedMediaType",
                                      "the body of the request was in an unknown format - accepted media types "
                                      "include: application/json-patch+json, application/merge-patch+json, "
                                      "application/apply-patch+yaml, application/strategic-merge-patch+json", {})
        except patch.PatchError as e:
            code = getattr(e, "status_code", 422)
            raise errors.ApiError(code, getattr(e, "reason", "Invalid" if code == 422 else "BadRequest"), str(e),
                                  {"name": name, "kind": rt.plural}) from None
        if not isinstance(new, dict):
            raise errors.bad_request("the patch must produce an object")
        md = new.get("metadata") if isinstance(new.get("metadata"), dict) else {}
        # A patch only conflicts if it carries a resourceVersion itself.
        body_rv = body.get("metadata", {}).get("resourceVersion") if isinstance(body, dict) and isinstance(
            body.get("metadata"), dict) else None
        if body_rv is None and isinstance(md, dict):
            md["resourceVersion"] = old["metadata"]["resourceVersion"]
        return self.update(rt, ns, name, new, subresource=subresource, dry_run=dry_run,
                           field_validation=field_validation)

    # -- delete ----------------------------------------------------------------
    def delete(self, rt: ResourceType, ns: str, name: str, *, grace: int | None = None,
               propagation: str | None = None, dry_run: bool = False, preconditions: dict[str, Any] | None = None
               ) -> tuple[Obj, bool]:
        """Returns (object, gone): gone False while graceful deletion or finalizers hold it."""
        key = self.key(rt)
        store_ns = ns if rt.namespaced else ""
        obj = self.store.get(key, store_ns, name)
        if obj is None:
            raise errors.not_found(rt.plural, name, rt.group)
        md = obj["metadata"]
        if preconditions:
            if preconditions.get("uid") and preconditions["uid"] != md.get("uid"):
                raise errors.conflict(rt.plural, name, rt.group,
                                      f"Precondition failed: UID in precondition: {preconditions['uid']}, "
                                      f"UID in object meta: {md.get('uid')}")
            if preconditions.get("resourceVersion") and preconditions["resourceVersion"] != md["resourceVersion"]:
                raise errors.conflict(rt.plural, name, rt.group)
        if rt.kind == "Namespace" and name in IMMORTAL_NAMESPACES:
            # NamespaceLifecycle admission (plugin/pkg/admission/namespace/lifecycle/admission.go): its
            # immortal namespaces are refused before anything else, a dry run included
            raise errors.ApiError(403, "Forbidden", f'namespaces "{name}" is forbidden: this namespace may not '
                                  f"be deleted", {"name": name, "kind": "namespaces"})
        if dry_run:
            return obj, True
        if rt.kind == "Namespace":
            if not md.get("deletionTimestamp"):
                md["deletionTimestamp"] = self.now()
                md["deletionGracePeriodSeconds"] = 0
                obj["status"] = {"phase": "Terminating"}
                obj = self.store.put(key, obj, "MODIFIED")
            return obj, False
        if propagation == "Orphan":
            self._orphan_dependents(md.get("uid", ""), store_ns)
        if rt.kind == "Pod":
            if grace is None:
                grace = int(obj.get("spec", {}).get("terminationGracePeriodSeconds", 30))
            node = obj.get("spec", {}).get("nodeName")
            phase = obj.get("status", {}).get("phase")
            if grace > 0 and node and phase not in ("Succeeded", "Failed"):
                if md.get("deletionTimestamp"):
                    cur = int(md.get("deletionGracePeriodSeconds", grace))
                    if grace >= cur:
                        return obj, False
                ts = dt.datetime.fromtimestamp(self.clock() + grace, dt.timezone.utc)
                md["deletionTimestamp"] = ts.strftime("%Y-%m-%dT%H:%M:%SZ")
                md["deletionGracePeriodSeconds"] = grace
                obj = self.store.put(key, obj, "MODIFIED")
                return obj, False
        if propagation == "Foreground" and self._dependents(md.get("uid", ""), store_ns):
            fins = md.setdefault("finalizers", [])
            if "foregroundDeletion" not in fins:
                fins.append("foregroundDeletion")
            md.setdefault("deletionTimestamp", self.now())
            md.setdefault("deletionGracePeriodSeconds", 0)
            return self.store.put(key, obj, "MODIFIED"), False
        if md.get("finalizers"):
            if not md.get("deletionTimestamp"):
                md["deletionTimestamp"] = self.now()
                md["deletionGracePeriodSeconds"] = 0
                obj = self.store.put(key, obj, "MODIFIED")
            return obj, False
        gone = self.store.remove(key, store_ns, name)
        return gone or obj, True

    def _dependents(self, uid: str, ns: str) -> builtins.list[tuple[str, Obj]]:
        out: builtins.list[tuple[str, Obj]] = []
        for r in ("/pods", "apps/replicasets", "discovery.k8s.io/endpointslices", "/endpoints",
                  "apps/deployments", "/services", "/configmaps"):
            for o in self.store.iter(r, ns or None):
                if any(ref.get("uid") == uid for ref in o["metadata"].get("ownerReferences") or []):
                    out.append((r, o))
        return out

    def _orphan_dependents(self, uid: str, ns: str) -> None:
        for r, o in self._dependents(uid, ns):
            o = clone(o)
            o["metadata"]["ownerReferences"] = [x for x in o["metadata"]["ownerReferences"] if x.get("uid") != uid]
            if not o["metadata"]["ownerReferences"]:
                del o["metadata"]["ownerReferences"]
            self.store.put(r, o, "MODIFIED")

    # -- helpers for controllers --------------------------------------------
    def create_internal(self, kind: str, ns: str, obj: Obj) -> Obj:
        rt = rt_of(kind, obj.get("apiVersion", ""))
        return self.create(rt, ns, obj)

    def put_status(self, kind: str, obj: Obj) -> Obj:
        rt = rt_of(kind, obj.get("apiVersion", ""))
        md = obj["metadata"]
        return self.update(rt, md.get("namespace", ""), md["name"], obj, subresource="status")

    def create_trusted(self, kind: str, ns: str, obj: Obj) -> Obj:
        """create for an object a component of this cluster built well-formed (the event recorder's
        Events, the bulk of all writes): the registry's bookkeeping (the namespace exists and is not
        terminating, the name is free, uid, creationTimestamp, resourceVersion, the watch event)
        without decoding, defaulting and validation. ``obj`` is stored as given (not copied)."""
        rt = rt_of(kind, obj.get("apiVersion", ""))
        md = obj["metadata"]
        key = self.key(rt)
        store_ns = ns if rt.namespaced else ""
        name = md["name"]
        self._check_namespace(rt, ns, name, creating=True)
        if self.store.peek(key, store_ns, name) is not None:
            raise errors.already_exists(rt.plural, name, rt.group)
        md["uid"] = self.ids.uid(key, store_ns, name)
        md["creationTimestamp"] = self.now()
        return self.store.put(key, obj, "ADDED")

    def bind(self, pod: Obj, node: str) -> Obj:
        """pods/binding (pkg/registry/core/pod/storage BindingREST): set ``spec.nodeName`` and the
        PodScheduled=True condition of ``pod`` (a copy the caller read), written as it is."""
        pod["spec"]["nodeName"] = node
        conds = [c for c in pod.get("status", {}).get("conditions") or [] if c.get("type") != "PodScheduled"]
        conds.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                      "lastTransitionTime": self.now()})
        pod.setdefault("status", {})["conditions"] = conds
        return self.store.put("/pods", pod, "MODIFIED")

    def finalize_namespace(self, name: str) -> None:
        """namespaces/finalize once the namespace controller has emptied it: the namespace goes, and
        with it the name counters kept for it."""
        self.store.remove("/namespaces", "", name)
        self.ids.drop_namespace(name)


def resource_from_path(group: str, plural: str) -> ResourceType | None:
    return by_plural(group, plural)
