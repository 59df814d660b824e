"""Benchmark baseline: the Powertools setup of AWS's SAM "hello-pt" starter (python3.13).

``sam init`` -> "Hello World Example with Powertools for AWS Lambda" creates a handler
that imports and instantiates ``Logger``, ``Metrics``, ``Tracer`` and
``APIGatewayRestResolver`` eagerly at module scope, decorates each route with
``tracer.capture_method`` and the entry point with ``logger.inject_lambda_context``
(API Gateway REST correlation id), ``tracer.capture_lambda_handler`` and
``metrics.log_metrics(capture_cold_start_metric=True)``. This file is that setup with
the routes of ``src/handler/app.py`` (``GET /health``, ``GET /``, ``POST /echo``), so
bench/ can compare the two on the same events and the same shipped dependencies.

Deliberate differences from the starter, each one making the baseline *cheaper*, never
dearer: the starter's per-request custom metric is left out (our handler emits no
per-request metric, only one on 5xx), and the routes do no input validation, error
shaping or security headers (our handler does all three on every request).

Never deployed; it is only imported by bench/ with the build output on ``sys.path``.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

app = APIGatewayRestResolver()
tracer = Tracer()
logger = Logger()
metrics = Metrics(namespace="Powertools")


@app.get("/health")
@tracer.capture_method
def health() -> dict[str, str]:
    logger.info("health - HTTP 200")
    return {"status": "ok"}


@app.get("/")
@tracer.capture_method
def root() -> dict[str, str]:
    logger.info("root - HTTP 200")
    return {"service": "baseline", "version": "0.1.0"}


@app.post("/echo")
@tracer.capture_method
def echo() -> dict[str, Any]:
    body = app.current_event.json_body
    message = body.get("message", "")
    logger.info("echo - HTTP 200")
    return {"message": message, "tags": body.get("tags", []), "length": len(message)}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
