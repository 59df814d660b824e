"""``POST /echo``: echo a validated message - the example of a route that takes a JSON body.

The body rules run before the function (request_body.JsonBody, declared below with the
body's JSON Schema, ``schemas/echo_request.json``): by the time the function runs,
``current_event.json_body`` is a parsed, schema-valid dict.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from request_body import JsonBody

router = APIGatewayRouter()


@router.post(
    "/echo",
    summary="Echo a validated message",
    description="Returns the message and tags it was sent, with the message's length.",
    middlewares=[JsonBody(schema="echo_request")],
    responses={
        200: {
            "description": "The validated message, echoed.",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "message": {"type": "string"},
                            "tags": {"type": "array", "items": {"type": "string"}},
                            "length": {"type": "integer", "minimum": 0},
                            "request_id": {"type": "string"},
                        },
                        "required": ["message", "tags", "length", "request_id"],
                    }
                }
            },
        }
    },
)
def echo() -> dict[str, Any]:
    data: dict[str, Any] = router.current_event.json_body
    message: str = data["message"]
    return {
        "message": message,
        "tags": data.get("tags", []),
        "length": len(message),
        "request_id": router.current_event.request_context.request_id,
    }
