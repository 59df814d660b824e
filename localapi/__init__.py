"""Serve the SAM-built REST API locally the way ``sam local start-api`` does, without Docker.

SAM CLI's own machinery finds the routes and translates HTTP <-> API Gateway
events (``localapi.server``); only the container runtime is replaced, by warm
worker processes of the function's own Python (``localapi.runner``,
``localapi.worker``), after checking that this machine can honestly run the
build (``localapi.runtime``). Run ``python -m localapi --help``.
"""

__version__ = "0.1.0"
