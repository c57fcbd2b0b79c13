"""The HTTP face of the embedded cluster: the Kubernetes REST API on aiohttp.

Paths, verbs, query parameters, content negotiation (JSON, YAML bodies, Table
responses), watch streams and Status errors follow
staging/src/k8s.io/apiserver/pkg/endpoints (installer.go, handlers/*.go).
Anything this server does not serve answers 404 as a server without that
resource would; a client's mistake is always a 4xx Status, never a 500.

This module is the front door: authentication, group commit, errors as Status, and the
resolution of a path through the URL grammar of ``routes.py`` to a handler of ``handlers.py``.
What comes before a request exists (TLS connections admitted in bounded numbers and time, HTTP
the parser refuses answered as a Status) is ``serving.py``.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import sqlite3
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..apimachinery import errors
from . import routes
from .handlers import Handlers
from .negotiation import MAX_BODY, status_response

if TYPE_CHECKING:
    from ..runtime import Runtime

log = logging.getLogger("kai_labs.apiserver")

PUBLIC = {"/version", "/healthz", "/livez", "/readyz"}


async def _add_warnings(request: web.Request, response: web.StreamResponse) -> None:
    """The warnings a route recorded for this request (a deprecated type's), as Go's warning recorder
    writes them: one ``Warning: 299 - "<text>"`` header each, on any answer, streamed or not."""
    for text in request.get(routes.WARNINGS_KEY, ()):
        response.headers.add("Warning", "299 - " + json.dumps(text))


class ApiServer:
    def __init__(self, rt: Runtime, token: str) -> None:
        self.rt = rt
        self.token = token
        self.handlers = Handlers(rt, lambda: self.address)
        self.routes = routes.build(self.handlers)
        self.app = web.Application(client_max_size=MAX_BODY, middlewares=[self._middleware])
        # [\s\S]: a name with an encoded newline (%0A) must reach the grammar too, not aiohttp's plain 404
        self.app.router.add_route("*", "/{tail:[\\s\\S]*}", self._dispatch)
        self.app.on_response_prepare.append(_add_warnings)
        self.address = ""

    # -- plumbing ------------------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            # only the health and version endpoints are open, as kube-apiserver's system:public-info-viewer
            # allows (an unused "/kai-labs/v1/public" prefix exemption was removed: nothing served there)
            if request.path not in PUBLIC:
                auth = request.headers.get("Authorization", "")
                if not (auth.startswith("Bearer ") and hmac.compare_digest(auth[7:].strip(), self.token)):
                    raise errors.unauthorized()
            try:
                resp: web.StreamResponse = await handler(request)
            finally:
                # object writes commit as they are made; counters left pending commit before the answer
                self.rt.store.flush()
            return resp
        except errors.ApiError as e:  # the store's refusals among them (errors.DiskFull: a full disk)
            return status_response(e)
        except sqlite3.Error as e:  # a statement run on the store's database around the store
            return status_response(self.rt.store.failed(e))
        except web.HTTPRequestEntityTooLarge:
            return status_response(errors.too_large())
        except web.HTTPException as e:
            if e.status < 400:
                raise
            # aiohttp's own refusals (malformed requests) answered as a Status, as every error here is
            reason = {400: "BadRequest", 404: "NotFound", 405: "MethodNotAllowed", 415: "UnsupportedMediaType"}
            return status_response(errors.ApiError(e.status, reason.get(e.status, ""), e.text or e.reason))
        except asyncio.CancelledError:
            raise
        except ConnectionResetError:  # the client hung up mid-answer; nothing to tell it
            return web.Response(status=499)
        except Exception as e:  # a bug of ours: answer like the apiserver, and keep serving
            log.exception("internal error on %s %s", request.method, request.path)
            return status_response(errors.internal(f"{type(e).__name__}: {e}"))

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        return await self.routes.serve(request)
