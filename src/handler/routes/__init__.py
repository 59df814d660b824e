"""The API's routes: one module per resource, each declaring a Powertools router.

Every module here whose name does not start with ``_`` must define ``router``, an
``APIGatewayRouter`` whose routes are declared with Powertools' own decorators
(``@router.get``, ``@router.post(..., responses=...)``). app.py includes them all, in
file-name order, so adding a resource is adding a module (see the README, "Add a route"):
no list to keep in step, and nothing a route must do to get the security headers, 405
handling or body rules (routing.RestApi attaches those to every route).
"""

from __future__ import annotations

import importlib
import os
from typing import Final

from aws_lambda_powertools.event_handler.router import APIGatewayRouter

_PACKAGE_DIR: Final = os.path.dirname(__file__)


def _route_module_names() -> list[str]:
    return sorted(
        entry.name.removesuffix(".py")
        for entry in os.scandir(_PACKAGE_DIR)
        if entry.name.endswith(".py") and not entry.name.startswith("_")
    )


def _router_of(name: str) -> APIGatewayRouter:
    module = importlib.import_module(f"{__name__}.{name}")
    router = getattr(module, "router", None)
    if not isinstance(router, APIGatewayRouter):
        raise TypeError(f"routes/{name}.py must define `router = APIGatewayRouter()`")
    return router


ROUTERS: Final[tuple[APIGatewayRouter, ...]] = tuple(
    _router_of(name) for name in _route_module_names()
)
