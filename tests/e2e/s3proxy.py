#!/usr/bin/env python3
"""s3proxy.py - a fault-injecting HTTP proxy in front of an S3 server, for tests.

    s3proxy.py --port-file FILE --upstream PORT --mode-file FILE --log FILE
               [--lifetime SECONDS]

Listens on 127.0.0.1 (a free port, written to --port-file) and forwards
every request to 127.0.0.1:UPSTREAM unchanged (same Host header, so SigV4
signatures still match). The mode is read from --mode-file before each
request:

  pass        forward everything
  flaky       some requests fail a few times, then pass: which ones and how
              is decided by a hash of (method, path, query, Range), so a
              retried request meets its own faults in order and then
              succeeds (at most 3 faults per request: fewer than the
              client's tries). Faults: 503 SlowDown, 500 InternalError,
              a request body cut mid-way (connection closed), a response
              body cut mid-way, a slow answer (1 s), a stall (6 s before
              any byte: longer than the client's -o s3.timeout=2).
  dead-puts   every PUT of a key under data/ answers 503 SlowDown; the
              rest passes (the network "dies" for uploads)
  dead        every request answers 503

In every mode a request whose body does not hash to its
x-amz-content-sha256 header is refused with 400 XAmzContentSHA256Mismatch,
as AWS does (the S3 server behind it does not check).

One line per injected fault is appended to --log ("KIND METHOD PATH").
The proxy exits by itself after --lifetime seconds (default 900).
"""
import argparse
import hashlib
import http.client
import http.server
import os
import socket
import sys
import threading
import time

HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "expect",
       "upgrade", "te", "trailer"}
KINDS = ["503", "500", "cut-request", "cut-response", "slow", "stall"]

args = None
attempts = {}
lock = threading.Lock()


def log_fault(kind, method, path):
    with lock:
        with open(args.log, "a") as f:
            f.write("%s %s %s\n" % (kind, method, path))


def mode():
    try:
        with open(args.mode_file) as f:
            return f.read().strip() or "pass"
    except OSError:
        return "pass"


def plan(key, has_body):
    """The faults a request meets on its first tries (a list of kinds)."""
    h = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
    # ranged reads are many (one per chunk): fault fewer of them
    rate = 16 if "bytes=" in key else 4
    if h % rate:
        return []
    n = 1 + (h >> 8) % 3
    out = []
    for i in range(n):
        k = KINDS[(h >> (16 + 4 * i)) % len(KINDS)]
        if k == "cut-request" and not has_body:
            k = "cut-response"
        out.append(k)
    return out


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        pass

    def s3_error(self, status, code, message):
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code>'
                '<Message>%s</Message></Error>' % (code, message)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def cut(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        key = "%s %s %s" % (self.command, self.path, self.headers.get("Range", ""))
        m = mode()
        fault = None
        if m == "dead":
            fault = "503"
        elif m == "dead-puts" and self.command == "PUT" and "/data/" in self.path:
            fault = "503"
        elif m == "flaky":
            with lock:
                n = attempts.get(key, 0)
                attempts[key] = n + 1
            p = plan(key, length > 0)
            if n < len(p):
                fault = p[n]
        if fault == "cut-request":
            # read part of the body, then drop the connection
            self.rfile.read(min(length, max(1, length // 2)))
            log_fault(fault, self.command, self.path)
            self.cut()
            return
        body = self.rfile.read(length) if length else b""
        # What AWS does and s3rver does not: a body whose SHA-256 is not the
        # x-amz-content-sha256 it was signed with is refused, so a client
        # that sends a wrong payload hash fails the tests that go through
        # this proxy.
        claimed = self.headers.get("x-amz-content-sha256", "")
        if (len(claimed) == 64 and claimed != hashlib.sha256(body).hexdigest()):
            log_fault("sha-mismatch", self.command, self.path)
            self.s3_error(400, "XAmzContentSHA256Mismatch",
                          "The provided 'x-amz-content-sha256' header does not match what was computed.")
            return
        if fault in ("503", "500"):
            log_fault(fault, self.command, self.path)
            if fault == "503":
                self.s3_error(503, "SlowDown", "Please reduce your request rate.")
            else:
                self.s3_error(500, "InternalError", "We encountered an internal error.")
            return
        if fault == "stall":
            log_fault(fault, self.command, self.path)
            time.sleep(6)
            self.cut()
            return
        if fault == "slow":
            log_fault(fault, self.command, self.path)
            time.sleep(1)
        up = http.client.HTTPConnection("127.0.0.1", args.upstream, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        if length or self.command in ("PUT", "POST"):
            headers["Content-Length"] = str(len(body))
        up.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for k, v in headers.items():
            up.putheader(k, v)
        up.endheaders(body if body else None)
        resp = up.getresponse()
        data = resp.read() if self.command != "HEAD" else b""
        up.close()
        if fault == "cut-response" and len(data) <= 1:
            # nothing to cut: the request was done, drop the answer instead
            log_fault(fault, self.command, self.path)
            self.cut()
            return
        self.send_response(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() in HOP or k.lower() == "content-length":
                continue
            self.send_header(k, v)
        if self.command == "HEAD":
            cl = resp.getheader("Content-Length")
            if cl is not None:
                self.send_header("Content-Length", cl)
        else:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if fault == "cut-response":
            log_fault(fault, self.command, self.path)
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.cut()
            return
        self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


def main():
    global args
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--upstream", type=int, required=True)
    ap.add_argument("--mode-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--lifetime", type=int, default=900)
    args = ap.parse_args()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, args.port_file)
    t = threading.Timer(args.lifetime, lambda: os._exit(0))
    t.daemon = True
    t.start()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
