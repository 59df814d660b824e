"""Baseline runner for the local-API benchmark: a fresh interpreter for every request.

This is how a container-per-request emulator behaves (``sam local start-api`` starts a
container per invocation unless told to warm them): for each HTTP request it builds an
API Gateway REST proxy event, starts ``python3.13`` on the built function, imports the
handler, invokes it once and turns the result into the HTTP response. The function code
is the same as the local API serves; only the runner differs. Bytecode comes from a warm
``pycache_prefix`` (the best case for this runner; a read-only code mount, as in
``sam local``, would also recompile every module on every request).

Stdlib only. Listens on 127.0.0.1 only; started and stopped (by PID) by bench/local_api.py::

    python bench/spawn_server.py --port N --python PY --code-dir DIR --pycache DIR \
        --env-json FILE --event-template events/health.json
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import subprocess
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

CHILD_TIMEOUT_S = 30
CHILD = """\
import json, os, sys
real_stdout = os.dup(1)
os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # the function's logs; the answer goes to real_stdout
sys.path[:0] = [{code_dir!r}]
import app

class Context:
    function_name = "secure-api-dev-ApiFunction"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:secure-api-dev-ApiFunction"
    memory_limit_in_mb = 256
    aws_request_id = "spawn-per-request"
    def get_remaining_time_in_millis(self):
        return 10000

response = app.lambda_handler(json.loads(sys.stdin.read()), Context())
os.write(real_stdout, json.dumps(response).encode())
"""


def build_event(
    template: dict[str, Any], method: str, target: str, headers: dict[str, str], body: bytes
) -> dict[str, Any]:
    """An API Gateway REST proxy event for one HTTP request (single-valued headers)."""
    parts = urlsplit(target)
    query = parse_qs(parts.query, keep_blank_values=True)
    event = copy.deepcopy(template)
    path = parts.path or "/"
    try:
        text: str | None = body.decode("utf-8") if body else None
        is_base64 = False
    except UnicodeDecodeError:
        text, is_base64 = base64.b64encode(body).decode(), True
    event.update(
        {
            "resource": "/{proxy+}",
            "path": path,
            "httpMethod": method,
            "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
            "multiValueQueryStringParameters": query or None,
            "pathParameters": {"proxy": path.lstrip("/")} if path != "/" else None,
            "body": text,
            "isBase64Encoded": is_base64,
        }
    )
    context = event.setdefault("requestContext", {})
    context.update(
        {
            "httpMethod": method,
            "path": f"/{context.get('stage', 'dev')}{path}",
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(time.time() * 1000),
        }
    )
    return event


class Handler(BaseHTTPRequestHandler):
    python: ClassVar[str] = ""
    code_dir: ClassVar[str] = ""
    pycache: ClassVar[str] = ""
    child_env: ClassVar[dict[str, str]] = {}
    template: ClassVar[dict[str, Any]] = {}

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def _invoke(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        event = build_event(
            self.template, self.command, self.path, dict(self.headers.items()), body
        )
        cmd = [
            self.python,
            "-I",
            "-X",
            f"pycache_prefix={self.pycache}",
            "-c",
            CHILD.format(code_dir=self.code_dir),
        ]
        try:
            proc = subprocess.run(
                cmd,
                input=json.dumps(event).encode(),
                capture_output=True,
                env=self.child_env,
                timeout=CHILD_TIMEOUT_S,
                check=False,
            )
            if proc.returncode != 0:
                raise RuntimeError(proc.stderr.decode(errors="replace")[-500:])
            response = json.loads(proc.stdout)
        except (subprocess.TimeoutExpired, RuntimeError, ValueError) as exc:
            self._send(502, {"Content-Type": "text/plain"}, f"invoke failed: {exc}".encode())
            return
        headers = dict(response.get("headers") or {})
        for name, values in (response.get("multiValueHeaders") or {}).items():
            headers[name] = ", ".join(values)
        payload = response.get("body") or ""
        data = base64.b64decode(payload) if response.get("isBase64Encoded") else payload.encode()
        self._send(int(response.get("statusCode", 200)), headers, data)

    def _send(self, status: int, headers: dict[str, str], data: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in ("content-length", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _invoke


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--python", required=True)
    parser.add_argument("--code-dir", required=True)
    parser.add_argument("--pycache", required=True)
    parser.add_argument("--env-json", type=Path, required=True)
    parser.add_argument("--event-template", type=Path, required=True)
    args = parser.parse_args()
    Handler.python = args.python
    Handler.code_dir = args.code_dir
    Handler.pycache = args.pycache
    Handler.child_env = json.loads(args.env_json.read_text())
    Handler.template = json.loads(args.event_template.read_text())
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"spawn_server: ready at http://127.0.0.1:{args.port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
