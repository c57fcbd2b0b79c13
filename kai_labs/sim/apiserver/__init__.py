"""The Kubernetes REST API over HTTPS (staging/src/k8s.io/apiserver/pkg/endpoints):

- ``server.py``: the front door: bearer-token authentication, group commit before a response,
  every error a Status;
- ``routes.py``: the URL grammar on aiohttp's UrlDispatcher, registered per resource type;
- ``handlers.py``: one handler per verb (get, list, watch, create, update, patch, delete,
  deletecollection) and subresource (status, scale, log, binding, eviction, exec/attach/portforward);
- ``watch.py``: a watch stream with a bounded buffer (a watcher that falls behind is closed);
- ``negotiation.py``: request bodies (JSON, YAML, protobuf) in, JSON out;
- ``options.py``: ListOptions, DeleteOptions, dryRun and fieldValidation checks;
- ``discovery.py``: discovery documents and OpenAPI v3; ``printers.py``: server-side Tables;
- ``tls.py``: the cluster home's private CA and serving certificate.
"""
