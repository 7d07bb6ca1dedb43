"""`WebChatChannel`: serves the chat page and its assets; the page talks to the Responses channel."""

from __future__ import annotations

from typing import Any

from agent_framework_hosting import ChannelContribution
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ._page import ASSETS, render_index, security_headers


def _normalize_path(path: str) -> str:
    """'/' and '' mean the app root (routes mounted as they are); anything else is '/segment'."""
    stripped = path.strip().strip("/")
    return "" if not stripped else "/" + stripped


class WebChatChannel:
    """A chat page at `path` (default: the root) for talking to the agent in a browser.

    The page posts to the Responses channel at `responses_url` (streaming, chained
    in a Responses Conversation, so `host.deliver` reaches it), so serve a `ResponsesChannel` beside it.
    """

    def __init__(
        self,
        *,
        path: str = "/",
        responses_url: str = "/responses",
        title: str | None = None,
        name: str = "webchat",
    ) -> None:
        self.name = name
        self.path = _normalize_path(path)
        self.responses_url = responses_url
        self.title = title

    def contribute(self, context: Any) -> ChannelContribution:
        title = self.title or getattr(context.target, "name", None) or "Agent chat"
        page = render_index(title=str(title), responses_url=self.responses_url).encode()
        headers = security_headers(self.responses_url)

        async def index(request: Request) -> Response:
            if not request.url.path.endswith("/"):
                return RedirectResponse(request.url.replace(path=request.url.path + "/"), status_code=308)
            return Response(page, media_type="text/html; charset=utf-8", headers=headers)

        async def asset(request: Request) -> Response:
            found = ASSETS.get(request.path_params["asset"])
            if found is None:
                return Response("not found", status_code=404, media_type="text/plain")
            body, media_type = found
            return Response(body, media_type=media_type, headers=headers)

        return ChannelContribution(
            routes=[
                Route("/", index, methods=["GET"], name=f"{self.name}-index"),
                Route("/webchat/{asset}", asset, methods=["GET"], name=f"{self.name}-asset"),
            ]
        )
