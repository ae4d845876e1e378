"""The dashboard's ASGI app (Starlette): one route per page, ``?node=NAME`` picks the node.

Error handling: a page whose reads fail with one of our errors (the chain unreachable, a home
without an account) answers 503 with that one line; an unknown node or job answers 404. Anything
else is a bug and propagates (Starlette answers 500 and the server logs it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from node.dashboard import pages
from node.dashboard.source import NodeSource
from node.errors import CcmError


def make_app(sources: Sequence[NodeSource]) -> Starlette:
    """The app over ``sources`` (the first is shown when no ``?node=`` is given)."""
    if not sources:
        raise ValueError("a dashboard needs at least one node home")
    by_name = {s.name: s for s in sources}

    def pick(request: Request) -> NodeSource | None:
        name = request.query_params.get("node")
        return sources[0] if name is None else by_name.get(name)

    def page(render: Callable[[NodeSource, Sequence[NodeSource]], str]) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            source = pick(request)
            if source is None:
                return PlainTextResponse("no such node", status_code=404)
            try:
                return HTMLResponse(render(source, sources))
            except CcmError as exc:
                return HTMLResponse(f"<!doctype html><p>unavailable: {escape(str(exc))}</p>", status_code=503)

        return endpoint

    def job(request: Request) -> Response:
        source = pick(request)
        if source is None:
            return PlainTextResponse("no such node", status_code=404)
        try:
            html = pages.job_page(source, sources, int(request.path_params["job_id"]))
        except CcmError as exc:
            return HTMLResponse(f"<!doctype html><p>unavailable: {escape(str(exc))}</p>", status_code=503)
        if html is None:
            return PlainTextResponse("this node has no such job", status_code=404)
        return HTMLResponse(html)

    routes = [
        Route("/", page(pages.node_page), methods=["GET"]),
        Route("/jobs", page(pages.jobs_page), methods=["GET"]),
        Route("/jobs/{job_id:int}", job, methods=["GET"]),
        Route("/audits", page(pages.audits_page), methods=["GET"]),
        Route("/claims", page(pages.claims_page), methods=["GET"]),
        Route("/market", page(pages.market_page), methods=["GET"]),
    ]
    return Starlette(routes=routes)
