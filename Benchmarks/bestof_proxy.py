#!/usr/bin/env python3
"""bestof_proxy.py LISTEN_PORT UPSTREAM_PORT LOGFILE [--drop-n] — forwards 127.0.0.1:LISTEN_PORT to
127.0.0.1:UPSTREAM_PORT and appends one JSON line per chat request (its body, status, response body).
With --drop-n the `n` field is removed before forwarding: a server that ignores `n` (one choice back).
Used by real_llm_bestof.sh to count the explainer's calls and tokens as the server saw them."""
import json, sys, threading, urllib.request, urllib.error
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler

LISTEN, UP, LOG = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
DROP_N = "--drop-n" in sys.argv[4:]
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def _forward(self, method):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        sent = body
        if body and DROP_N:
            request = json.loads(body)
            if request.pop("n", None) is not None:
                sent = json.dumps(request).encode()
        upstream = urllib.request.Request(f"http://127.0.0.1:{UP}{self.path}", data=sent, method=method,
                                          headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(upstream, timeout=3600) as r:
                status, data = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, data = e.code, e.read()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        if body:
            with lock, open(LOG, "a") as f:
                f.write(json.dumps({"path": self.path, "status": status, "request": body.decode(),
                                    "response": data.decode(errors="replace")}) + "\n")

    def do_POST(self):
        self._forward("POST")

    def do_GET(self):
        self._forward("GET")

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", LISTEN), Handler).serve_forever()
