"""``GET /health``: the liveness probe load balancers and uptime checks call.

The only route without an API key (template.yaml's ``Health`` event), so it reveals
nothing and checks no dependency: it stays cheap and answers whenever the function runs.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayRouter

router = APIGatewayRouter()


@router.get(
    "/health",
    summary="Liveness probe",
    description="Answers while the function runs; checks no dependency. No API key needed.",
    responses={
        200: {
            "description": "The function is running.",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {"status": {"type": "string", "const": "ok"}},
                        "required": ["status"],
                        "additionalProperties": False,
                    }
                }
            },
        }
    },
)
def health() -> dict[str, str]:
    return {"status": "ok"}
