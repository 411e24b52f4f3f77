"""Threaded HTTP(S) server with Basic auth realms, TLS (+downgrade) and fault hooks."""

import base64
import json
import os
import socket
import ssl
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import glog, net

FAULT_DIR = "/run/mesos-double"


class Request:
    def __init__(self, method, raw_path, headers, body, client):
        self.method = method
        self.raw_path = raw_path
        parts = urllib.parse.urlsplit(raw_path)
        self.path = parts.path
        self.query_string = parts.query
        self.query = dict(urllib.parse.parse_qsl(parts.query))
        self.headers = headers
        self.body = body
        self.client = client

    def json(self):
        try:
            return json.loads(self.body.decode() or "null")
        except ValueError:
            return None


class Response:
    def __init__(self, status=200, body=b"", content_type="text/plain; charset=utf-8", headers=None):
        self.status = status
        self.body = body if isinstance(body, bytes) else body.encode()
        self.content_type = content_type
        self.headers = headers or {}


def json_response(obj, status=200):
    return Response(status, json.dumps(obj).encode(), "application/json")


def text(status, body=""):
    return Response(status, body)


def load_credentials(path):
    """{"credentials":[{principal, secret}]} or legacy 'principal secret' lines."""
    with open(path, encoding="utf-8") as fh:
        content = fh.read()
    creds = {}
    stripped = content.strip()
    if stripped.startswith("{"):
        doc = json.loads(stripped)
        for c in doc.get("credentials", []):
            creds[c["principal"]] = c.get("secret", "")
    else:
        for line in stripped.splitlines():
            parts = line.split()
            if len(parts) == 2:
                creds[parts[0]] = parts[1]
            elif parts:
                raise ValueError("Invalid credential format at line: %s" % line)
    return creds


class Authenticator:
    def __init__(self, realm_prefix, readonly, readwrite, credentials):
        self.realm_prefix = realm_prefix
        self.enabled = {"readonly": readonly, "readwrite": readwrite}
        self.credentials = credentials or {}

    def check(self, req, kind):
        """Returns None when allowed, else a 401 Response."""
        if kind is None or not self.enabled.get(kind):
            return None
        header = req.headers.get("Authorization", "")
        if header.startswith("Basic "):
            try:
                user, _, pw = base64.b64decode(header[6:]).decode().partition(":")
                if user in self.credentials and self.credentials[user] == pw:
                    return None
            except (ValueError, UnicodeDecodeError):
                pass
        realm = "%s-%s" % (self.realm_prefix, kind)
        return Response(401, b"", headers={"WWW-Authenticate": 'Basic realm="%s"' % realm})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, addr, handler, tls):
        self.tls = tls
        self.ssl_ctx = tls.server_context() if tls.enabled else None
        super().__init__(addr, handler)

    def finish_request(self, request, client_address):
        if self.ssl_ctx is not None:
            try:
                request.settimeout(10)
                wrap = True
                if self.tls.downgrade:
                    first = request.recv(1, socket.MSG_PEEK)
                    wrap = first == b"\x16"
                if wrap:
                    request = self.ssl_ctx.wrap_socket(request, server_side=True)
                request.settimeout(None)
            except (ssl.SSLError, OSError):
                try:
                    request.close()
                except OSError:
                    pass
                return
        self.RequestHandlerClass(request, client_address, self)

    def handle_error(self, request, client_address):  # quiet
        pass


class HTTPServer:
    def __init__(self, role, bind_ip, port, router, where="process.cpp"):
        self.role = role
        self.port = port
        self.router = router
        tls = net.tls()
        server_self = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "libprocess-double"
            sys_version = ""

            def version_string(self):
                return "libprocess-double"

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                req = Request(self.command, self.path, self.headers, body, self.client_address)
                try:
                    resp = server_self.dispatch(req)
                except Exception as exc:  # noqa: BLE001
                    glog.error("process.cpp", 3000, "Internal error handling %s: %r" % (req.path, exc))
                    resp = text(500, "Internal error: %r" % (exc,))
                if resp is None:  # hang / drop
                    self.close_connection = True
                    return
                self.send_response(resp.status)
                self.send_header("Content-Type", resp.content_type)
                self.send_header("Content-Length", str(len(resp.body)))
                for k, v in resp.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(resp.body)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _handle

        self._server = _Server((bind_ip, port), Handler, tls)

    def dispatch(self, req):
        return self.router(req)

    def health_fault(self):
        """Double-only fault hook: /run/mesos-double/<role>-<port>.health."""
        path = os.path.join(FAULT_DIR, "%s-%d.health" % (self.role, self.port))
        try:
            with open(path, encoding="utf-8") as fh:
                content = fh.read().strip()
        except OSError:
            return None
        if content == "fail":
            return text(503, "Unhealthy (mesos-double fault hook)")
        if content == "hang":
            while True:
                time.sleep(3600)
        return None

    def serve(self):
        import threading
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                         name="http", daemon=True).start()
