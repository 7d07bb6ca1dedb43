"""OpenAI-shaped errors: ``{"error": {"message", "type", "param", "code"}}``."""

from __future__ import annotations

from starlette.responses import JSONResponse


class ApiError(Exception):
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
        self.status_code = status_code
        self.param = param
        self.code = code
        self.type = type or ("server_error" if status_code >= 500 else "invalid_request_error")
        self.retry = retry

    def body(self) -> dict[str, object]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

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
