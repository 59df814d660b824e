"""The local API's HTTP server: werkzeug's threaded server with a hardened request handler.

SAM CLI's ``LocalApigwService.run`` starts Flask's development server as is. The
process engine serves SAM's Flask app itself (:func:`make_local_server`), behind
:class:`localapi.http_guard.RequestGuard`, with :class:`LocalRequestHandler`, which
changes four things about werkzeug's handler:

* chunked bodies are decoded by :class:`~localapi.http_guard.ChunkedReader` (bounded,
  and end of input is an error) instead of werkzeug's ``DechunkedInput``, which
  loops forever, allocating, when the client closes inside a huge chunk;
* the access log line has the method and the path, never the query string (tokens
  travel there) and never the raw request line of a malformed request;
* http.server's error answers (malformed request line, headers too long) are
  ``{"message": "<reason phrase>"}`` with a status line, instead of an HTML page quoting
  the request (without a status line when the version could not be parsed);
* every connection has a socket timeout, so a client that stops sending holds a
  thread for :data:`SOCKET_TIMEOUT_S` at most (and after it timed out mid-body, nothing
  more is read from it: :meth:`LocalRequestHandler.discard_input`).
"""

from __future__ import annotations

import io
from typing import Any, Final
from urllib.parse import urlsplit

from werkzeug.serving import BaseWSGIServer, DechunkedInput, WSGIRequestHandler, make_server

from localapi.http_guard import DISCARD_INPUT, ChunkedReader, RequestGuard, loggable_path

#: Longest silence from a client (request line, headers, body, or reading the answer).
#: API Gateway's own integration timeout is 29 s; a client silent for longer is gone.
SOCKET_TIMEOUT_S: Final = 30.0
MALFORMED_REQUEST: Final = "(malformed request line, not logged)"


def request_summary(command: str | None, target: str | None, version: str | None) -> str:
    """``POST /echo HTTP/1.1`` for ``POST /echo?token=... HTTP/1.1``: method and path only."""
    if not command or target is None:
        return MALFORMED_REQUEST
    try:
        path = urlsplit(target).path or "/"
    except ValueError:  # e.g. an invalid IPv6 literal in an absolute-form target
        return MALFORMED_REQUEST
    return f"{loggable_path(command)} {loggable_path(path)} {loggable_path(version or '')}".strip()


class LocalRequestHandler(WSGIRequestHandler):
    """werkzeug's handler, hardened (see the module docstring)."""

    protocol_version = "HTTP/1.1"  # what SAM's LocalApigwService.create sets on werkzeug's
    timeout = SOCKET_TIMEOUT_S
    error_content_type = "application/json"
    error_message_format = '{"message": "%(message)s"}'

    def make_environ(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().make_environ()
        if isinstance(environ.get("wsgi.input"), DechunkedInput):
            environ["wsgi.input"] = ChunkedReader(self.rfile)
        environ[DISCARD_INPUT] = self.discard_input
        return environ

    def discard_input(self) -> None:
        """Read nothing more from this client (its connection timed out mid-body).

        After the answer werkzeug drains what the client still sends; from a socket file
        that timed out, that read raises and werkzeug logs a traceback.
        """
        self.rfile.close()
        self.rfile = io.BytesIO()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The reason phrase only: http.server's messages quote the request line.

        A request line that could not be parsed leaves http.server assuming HTTP/0.9,
        which would answer without a status line; the client gets one anyway.
        """
        if self.request_version == "HTTP/0.9":
            self.request_version = "HTTP/1.0"
        super().send_error(code)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        line = request_summary(
            getattr(self, "command", None),
            getattr(self, "path", None),
            getattr(self, "request_version", None),
        )
        self.log("info", '"%s" %s %s', line, code, size)


def make_local_server(
    host: str,
    port: int,
    app: RequestGuard,
    handler: type[LocalRequestHandler] = LocalRequestHandler,
) -> BaseWSGIServer:
    """A threaded server on ``host:port`` (already checked to be loopback) serving ``app``."""
    return make_server(host, port, app, threaded=True, request_handler=handler)
