"""Fake daemons for the ha-supervisor tests (run as a subprocess by the supervisor).

Modes:
  http  an HTTP server on 127.0.0.1:PORT.  /health answers according to --health:
        ok (always 200), flap (200, 503, 200, ...), slow:SECONDS (503 until then),
        never (accepts, never answers), state (200 iff --state-file holds "ok";
        never answers while it holds "hang").
        /metrics/snapshot returns the JSON object in --metrics-file, and needs
        Basic auth when --auth PRINCIPAL:SECRET is given.
  zk    a ZooKeeper four-letter-word server on 127.0.0.1:PORT; the member is a
        follower unless --state-file holds "notserving".
  dead  exits with --exit-code at once.

Every mode writes its pid to --pid-file and appends the names of the signals it
receives (TERM, INT, HUP, QUIT, USR1, USR2) to --signal-file.  SIGTERM makes it
exit 0 unless --ignore-term is given.  --ready-file receives the monotonic time
at which /health starts answering 200 (slow mode).
"""

from __future__ import annotations

import argparse
import base64
import http.server
import os
import signal
import socketserver
import sys
import threading
import time

START = time.monotonic()


def read_text(path: str | None, default: str = "") -> str:
    if not path:
        return default
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError:
        return default


def http_handler(args: argparse.Namespace) -> type[http.server.BaseHTTPRequestHandler]:
    counter = {"health": 0}
    lock = threading.Lock()
    ready_written = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, *_: object) -> None:
            pass

        def reply(self, status: int, body: bytes, ctype: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def health_status(self) -> int:
            mode = args.health
            if mode == "ok":
                return 200
            if mode == "flap":
                with lock:
                    counter["health"] += 1
                    return 200 if counter["health"] % 2 == 1 else 503
            if mode.startswith("slow:"):
                healthy_at = START + float(mode.split(":", 1)[1])
                if time.monotonic() < healthy_at:
                    return 503
                if args.ready_file and not ready_written.is_set():
                    ready_written.set()
                    with open(args.ready_file, "w", encoding="utf-8") as handle:
                        handle.write(repr(healthy_at))
                return 200
            if mode == "state":
                state = read_text(args.state_file, "ok")
                if state == "hang":
                    time.sleep(3600)
                return 200 if state == "ok" else 503
            if mode == "never":
                time.sleep(3600)
            return 500

        def do_GET(self) -> None:  # noqa: N802 (http.server API)
            if self.path == "/health":
                status = self.health_status()
                self.reply(status, b"" if status == 200 else b"unhealthy")
            elif self.path == "/metrics/snapshot":
                if args.auth:
                    token = base64.b64encode(args.auth.encode()).decode()
                    if self.headers.get("Authorization") != f"Basic {token}":
                        self.reply(401, b"unauthorized")
                        return
                body = read_text(args.metrics_file, "{}").encode()
                self.reply(200, body, "application/json")
            else:
                self.reply(404, b"not found")

    return Handler


def zk_handler(args: argparse.Namespace) -> type[socketserver.BaseRequestHandler]:
    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            word = self.request.recv(4)
            if word == b"ruok":
                self.request.sendall(b"imok")
            elif word == b"srvr":
                if read_text(args.state_file, "follower") == "notserving":
                    self.request.sendall(b"This ZooKeeper instance is not currently serving requests\n")
                else:
                    self.request.sendall(
                        b"Zookeeper version: 3.8.0-fake\nLatency min/avg/max: 0/0.0/0\nReceived: 1\n"
                        b"Sent: 1\nConnections: 1\nOutstanding: 0\nZxid: 0x100000000\n"
                        b"Mode: follower\nNode count: 5\n"
                    )

    return Handler


class ThreadingTCPServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["http", "zk", "dead"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--health", default="ok")
    parser.add_argument("--state-file")
    parser.add_argument("--metrics-file")
    parser.add_argument("--auth")
    parser.add_argument("--pid-file")
    parser.add_argument("--signal-file")
    parser.add_argument("--ready-file")
    parser.add_argument("--ignore-term", action="store_true")
    parser.add_argument("--exit-code", type=int, default=3)
    args = parser.parse_args()

    if args.pid_file:
        with open(args.pid_file, "w", encoding="utf-8") as handle:
            handle.write(str(os.getpid()))
    if args.mode == "dead":
        print("fake daemon: failing at once", file=sys.stderr)
        return args.exit_code

    def on_signal(signum: int, _frame: object) -> None:
        if args.signal_file:
            with open(args.signal_file, "a", encoding="utf-8") as handle:
                handle.write(signal.Signals(signum).name.removeprefix("SIG") + "\n")
        if signum == signal.SIGTERM and not args.ignore_term:
            os._exit(0)

    for signum in (
        signal.SIGTERM,
        signal.SIGINT,
        signal.SIGHUP,
        signal.SIGQUIT,
        signal.SIGUSR1,
        signal.SIGUSR2,
    ):
        signal.signal(signum, on_signal)

    if args.mode == "http":
        server: socketserver.TCPServer = http.server.ThreadingHTTPServer(
            ("127.0.0.1", args.port), http_handler(args)
        )
    else:
        server = ThreadingTCPServer(("127.0.0.1", args.port), zk_handler(args))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"fake daemon: {args.mode} listening on {args.port}", file=sys.stderr, flush=True)
    while True:
        signal.pause()


if __name__ == "__main__":
    sys.exit(main())
