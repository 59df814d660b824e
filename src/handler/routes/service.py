"""``GET /``: which deployment answered, so a client can tie an answer to a version.

It also loads the secret configuration when one is set (only its size leaves the
function), so a broken secret or a missing permission shows on the first request rather
than on the first request that needs it.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from secret_config import load_secret_config
from settings import settings

router = APIGatewayRouter()


@router.get(
    "/",
    summary="Identify the deployment",
    description=(
        "Service name and version of the deployment that answered, the request id, and "
        "where the configuration came from (the number of entries, never their values)."
    ),
    responses={
        200: {
            "description": "The deployment's identity.",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "service": {"type": "string"},
                            "version": {"type": "string"},
                            "request_id": {"type": "string"},
                            "config_source": {"type": "string", "enum": ["none", "secretsmanager"]},
                            "config_entries": {"type": "integer", "minimum": 0},
                        },
                        "required": [
                            "service",
                            "version",
                            "request_id",
                            "config_source",
                            "config_entries",
                        ],
                    }
                }
            },
        }
    },
)
def root() -> dict[str, Any]:
    config = load_secret_config(settings.config_secret_arn)
    return {
        "service": settings.service_name,
        "version": settings.app_version,
        "request_id": router.current_event.request_context.request_id,
        "config_source": "secretsmanager" if settings.config_secret_arn else "none",
        "config_entries": len(config),
    }
