"""OpenAI-shaped errors: ``{"error": {"message", "type", "param", "code"}}``."""

from __future__ import annotations

from agent_framework_hosting import HostingError
from starlette.responses import JSONResponse

BUSY_MESSAGE = "The conversation is busy with another response; retry later."


class ApiError(HostingError):
    """A request the channel refuses, answered in OpenAI's error shape."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 400,
        param: str | None = None,
        code: str | None = None,
        type: str | None = None,
        retry: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.public_message = message
        self.status_code = status_code
        self.param = param
        self.type = type or ("server_error" if status_code >= 500 else "invalid_request_error")
        self.api_code = code
        self.code = code or self.type
        self.retry = retry

    def body(self) -> dict[str, object]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.api_code}}

    def response(self) -> JSONResponse:
        headers: dict[str, str] = {}
        if self.retry is not None:
            headers["x-should-retry"] = "true" if self.retry else "false"
        if self.status_code == 401:
            headers["www-authenticate"] = "Bearer"
        return JSONResponse(self.body(), status_code=self.status_code, headers=headers or None)


def not_found(kind: str, identifier: str, *, param: str | None = None) -> ApiError:
    shown = identifier.encode("utf-8", "backslashreplace").decode("utf-8")
    return ApiError(f"No {kind} found with id '{shown}'.", status_code=404, param=param, code="not_found")
