"""Airflow's login in front of the mounted ModelDB app.

Airflow does not put plugin apps behind its authentication, so every request
to ``/modeldb`` passes through ``RequireAirflowUser``: it resolves the user
the way Airflow's own API does (a ``Bearer`` JWT, else the UI's session
cookie, both validated by the configured auth manager) and asks the auth
manager whether that user may see the website. No credential or an expired
one is a 401, an invalid token or a user without access a 403.
"""
from __future__ import annotations

from typing import Any, Callable

ASGIApp = Callable[..., Any]


async def _user(request: Any) -> Any:
    from fastapi.security import HTTPBearer

    from airflow.api_fastapi.core_api.security import get_user

    bearer = await HTTPBearer(auto_error=False)(request)
    return await get_user(request, None, bearer)


def _may_view(user: Any) -> bool:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import AccessView

    return bool(get_auth_manager().is_authorized_view(access_view=AccessView.WEBSITE, user=user))


class RequireAirflowUser:
    """ASGI middleware: pass only requests from an authenticated, authorized Airflow user."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        from fastapi import HTTPException
        from starlette.requests import HTTPConnection
        from starlette.responses import JSONResponse

        try:
            user = await _user(HTTPConnection(scope))
            if not _may_view(user):
                raise HTTPException(status_code=403, detail="Forbidden: no access to ModelDB")
        except HTTPException as exc:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
            await JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                               headers=headers)(scope, receive, send)
            return
        scope.setdefault("state", {})["airflow_user"] = user
        await self.app(scope, receive, send)
