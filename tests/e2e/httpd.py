#!/usr/bin/python3
"""A small HTTP server for the uri and get_url tests.

usage: httpd.py PORTFILE [CERT KEY CLIENT_CA]
  binds 127.0.0.1 on a free port and writes it to PORTFILE; with CERT, KEY
  and CLIENT_CA it speaks HTTPS and asks every client for a certificate
  signed by CLIENT_CA
  /json         200 application/json
  /text         200 text/plain
  /echo         any method: the method, body, content type and authorization as JSON
  /status/N     status N
  /redirect     302 to /json
  /auth         basic auth user:pw, else 401 asking for it
  /file         200 application/octet-stream, a fixed payload
"""
import base64
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAYLOAD = b"kplan get_url payload\n" * 8


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, code, body, ctype, extra=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode() if n else ""
        p = self.path
        if p == "/json":
            self.send(200, json.dumps({"a": 1, "b": [1, 2], "c": {"d": None}}).encode(), "application/json")
        elif p == "/text":
            self.send(200, b"hello\n", "text/plain; charset=utf-8")
        elif p == "/echo":
            doc = {"method": self.command, "body": body,
                   "ctype": self.headers.get("Content-Type"),
                   "x_test": self.headers.get("X-Test")}
            self.send(200, json.dumps(doc).encode(), "application/json")
        elif p.startswith("/status/"):
            code = int(p.split("/")[2])
            self.send(code, b"status body\n", "text/plain")
        elif p == "/redirect":
            self.send(302, b"", "text/plain", [("Location", "/json")])
        elif p == "/auth":
            want = "Basic " + base64.b64encode(b"user:pw").decode()
            if self.headers.get("Authorization") == want:
                self.send(200, b'{"authed": true}', "application/json")
            else:
                self.send(401, b"no\n", "text/plain", [("WWW-Authenticate", 'Basic realm="t"')])
        elif p == "/file":
            self.send(200, PAYLOAD, "application/octet-stream")
        else:
            self.send(404, b"not found\n", "text/plain")

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = handle_any


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    if len(sys.argv) == 5:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[2], sys.argv[3])
        ctx.load_verify_locations(sys.argv[4])
        ctx.verify_mode = ssl.CERT_REQUIRED
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    srv.serve_forever()


if __name__ == "__main__":
    main()
