"""What every namespace is given by kube-controller-manager: the ``default`` ServiceAccount (the
serviceaccount-controller, pkg/controller/serviceaccount/serviceaccounts_controller.go) and the
``kube-root-ca.crt`` ConfigMap holding the cluster's CA (the root-ca-cert-publisher,
pkg/controller/certificates/rootcacertpublisher/publisher.go).

Both act on a namespace that exists and is not terminating; both put back what is deleted or changed
(the ServiceAccount when deleted, the ConfigMap's data and description when edited or deleted).
Pods rely on the two: the ServiceAccount admission plugin refuses a Pod whose ServiceAccount does not
exist, and mounts ``kube-root-ca.crt`` into every Pod's ``kube-api-access-*`` volume.
"""

from __future__ import annotations

from collections.abc import Callable

from ..apimachinery import errors
from ..clientset import Client, Lister
from ..storage.store import Obj, clone

DEFAULT_SERVICE_ACCOUNT = "default"
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
# publisher.go DescriptionAnnotation (kubernetes.io/description): the text every kube-root-ca.crt carries
ROOT_CA_DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using internal "
                       "endpoints such as the internal service IP or kubernetes.default.svc. No other usage is "
                       "guaranteed across distributions of Kubernetes clusters.")


def _active(lister: Lister, ns: str) -> bool:
    nso = lister.peek("/namespaces", "", ns)
    return nso is not None and not nso["metadata"].get("deletionTimestamp")


class ServiceAccountsController:
    """Ensures ServiceAccount ``default`` in every active namespace (serviceaccounts_controller.go syncNamespace:
    created when missing, never updated)."""

    def __init__(self, lister: Lister, client: Client) -> None:
        self.lister = lister
        self.client = client

    def sync(self, _: str, ns: str) -> None:
        if not _active(self.lister, ns) or self.lister.peek("/serviceaccounts", ns, DEFAULT_SERVICE_ACCOUNT):
            return
        try:
            self.client.create("ServiceAccount", ns, {"apiVersion": "v1", "kind": "ServiceAccount",
                                                      "metadata": {"name": DEFAULT_SERVICE_ACCOUNT}})
        except errors.ApiError as e:
            if e.code not in (409, 403):  # made meanwhile; the namespace began terminating
                raise


class RootCACertPublisher:
    """Ensures ConfigMap ``kube-root-ca.crt`` with ``ca.crt`` = the cluster's CA in every active namespace
    (publisher.go syncNamespace: created when missing, its data and description annotation restored when
    they differ). ``ca_bundle`` gives the CA in PEM; None (a cluster without TLS, as in some tests):
    nothing is published."""

    def __init__(self, lister: Lister, client: Client, ca_bundle: Callable[[], str | None]) -> None:
        self.lister = lister
        self.client = client
        self.ca_bundle = ca_bundle

    def sync(self, _: str, ns: str) -> None:
        if not _active(self.lister, ns):
            return
        ca = self.ca_bundle()
        if not ca:
            return
        data = {"ca.crt": ca}
        cur = self.lister.peek("/configmaps", ns, ROOT_CA_CONFIGMAP)
        try:
            if cur is None:
                self.client.create("ConfigMap", ns, {
                    "apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": ROOT_CA_CONFIGMAP,
                                 "annotations": {"kubernetes.io/description": ROOT_CA_DESCRIPTION}},
                    "data": data})
                return
            annotations = cur["metadata"].get("annotations") or {}
            if cur.get("data") == data and not cur.get("binaryData") and (
                    annotations.get("kubernetes.io/description") == ROOT_CA_DESCRIPTION):
                return
            new: Obj = clone(cur)
            new["data"] = data
            new.pop("binaryData", None)
            new["metadata"]["annotations"] = {**annotations, "kubernetes.io/description": ROOT_CA_DESCRIPTION}
            self.client.update("ConfigMap", ns, ROOT_CA_CONFIGMAP, new)
        except errors.ApiError as e:
            if e.code not in (409, 403, 404):  # raced with a writer or the namespace's end: the next event
                raise
