"""``/healthz``, ``/livez`` and ``/readyz``, answered as kube-apiserver answers them.

Facts from staging/src/k8s.io/apiserver/pkg/server/healthz/healthz.go (``handleRootHealth``):

- every check passes: 200, ``ok``; with ``?verbose`` one ``[+]<check> ok`` line per check, then
  ``<path> check passed``;
- a check fails: 500 (``http.Error``, so the body ends with a newline) listing every check whatever
  ``verbose`` says ("always be verbose on failure"), a failed one as ``[-]<check> failed: reason
  withheld`` (the endpoint is public: the reason goes to the log only), then ``<path> check failed``;
- ``?exclude=<check>`` (repeatable) skips a check: ``[+]<check> excluded: ok``; a name that matches
  nothing adds ``warn: some health checks cannot be excluded: no matches for "<name>"``;
- both answers are ``text/plain; charset=utf-8`` with ``X-Content-Type-Options: nosniff``.

The checks, in kube-apiserver's order: ``ping`` and ``log`` (always ok here), ``etcd`` on all three
paths (``AddHealthChecks`` adds it to healthz, livez and readyz: pkg/server/config.go), and
``etcd-readiness`` on readyz only (pkg/server/options/etcd.go, ``addEtcdHealthEndpoint``).

``etcd`` is the store's health (``Store.health``): it fails while writes cannot commit, a full disk
above all, and passes again once a probe write commits. One difference, on purpose: kube-apiserver's
probe is a read (a Get of ``<prefix>/health``, pkg/storage/storagebackend/factory/etcd3.go), which etcd
still serves under its NOSPACE alarm, so a real cluster whose etcd is out of space can report healthy.
Here the check fails, so that ``kubectl get --raw '/healthz?verbose'`` shows where the trouble is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web

log = logging.getLogger("kai_labs.apiserver")

Check = Callable[[], str | None]  # None: ok; otherwise why not (for the log)

HEADERS = {"Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff"}


def _ok() -> str | None:
    return None


def checks(path: str, storage: Check) -> list[tuple[str, Check]]:
    """The named checks of one of the three paths (``healthz``, ``livez``, ``readyz``)."""
    named: list[tuple[str, Check]] = [("ping", _ok), ("log", _ok), ("etcd", storage)]
    if path == "readyz":
        named.append(("etcd-readiness", storage))
    return named


def answer(path: str, query: dict[str, list[str]], named: list[tuple[str, Check]]) -> tuple[int, str]:
    """(status, body) of handleRootHealth for ``path`` ("healthz", ...) and the request's query."""
    excluded = set(query.get("exclude", []))
    unknown = set(excluded)
    lines: list[str] = []
    failed: list[str] = []
    for name, check in named:
        if name in excluded:
            unknown.discard(name)
            lines.append(f"[+]{name} excluded: ok\n")
            continue
        why = check()
        if why is None:
            lines.append(f"[+]{name} ok\n")
        else:
            lines.append(f"[-]{name} failed: reason withheld\n")
            failed.append(f"[-]{name} failed: {why}")
    if unknown:
        quoted = ",".join(f'"{n}"' for n in sorted(unknown))
        lines.append(f"warn: some health checks cannot be excluded: no matches for {quoted}\n")
    if failed:
        log.debug("%s check failed: %s", path, "; ".join(failed))
        return 500, "".join(lines) + f"{path} check failed\n"
    if "verbose" not in query:
        return 200, "ok"
    return 200, "".join(lines) + f"{path} check passed\n"


def respond(request: web.Request, storage: Check) -> web.Response:
    path = request.path.strip("/").split("/")[0]
    query = {k: request.query.getall(k) for k in request.query}
    status, body = answer(path, query, checks(path, storage))
    return web.Response(status=status, body=body.encode(), headers=HEADERS)
