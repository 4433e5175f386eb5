#!/usr/bin/env python3
"""A proxy in front of moto for the s3 backend's timeout tests (CachingTests), on 127.0.0.1 only.

    s3_proxy.py PORT UPSTREAM_PORT throttle RATE   read each request's body at RATE bytes a second, then forward it
    s3_proxy.py PORT UPSTREAM_PORT stall-data      a PUT of an entry's data (a path with /data/) is read and never
                                                   answered; everything else is forwarded
    s3_proxy.py PORT UPSTREAM_PORT stall-get-data  a GET of an entry's data is answered with its head and half its
                                                   body, then nothing more; everything else is forwarded
"""
import http.client
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, upstream, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rate = int(sys.argv[4]) if len(sys.argv) > 4 else 0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def forward(self):
        length = int(self.headers.get("Content-Length") or 0)
        connection = http.client.HTTPConnection("127.0.0.1", upstream, timeout=60)
        headers = {name: value for name, value in self.headers.items() if name.lower() != "connection"}
        # A throttled body goes on to moto as it comes, so the answer follows its last byte at
        # once (a body gathered first took seconds more to hand over under load).
        streaming = mode == "throttle" and length > 0
        if streaming:
            connection.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in headers.items():
                connection.putheader(name, value)
            connection.endheaders()
        body = bytearray()
        received = 0
        while received < length:
            want = length - received
            if mode == "throttle":
                want = min(want, max(1, rate // 8))
            chunk = self.rfile.read(want)
            if not chunk:
                return
            received += len(chunk)
            if streaming:
                connection.send(chunk)
            else:
                body += chunk
            if mode == "throttle":
                time.sleep(len(chunk) / rate)
        if mode == "stall-data" and self.command == "PUT" and "/data/" in self.path:
            time.sleep(600)
            return
        if not streaming:
            connection.request(self.command, self.path, body=bytes(body) if length else None, headers=headers)
        answer = connection.getresponse()
        data = answer.read()
        self.send_response(answer.status, answer.reason)
        for name, value in answer.getheaders():
            if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if mode == "stall-get-data" and self.command == "GET" and "/data/" in self.path:
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            time.sleep(600)
            return
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = forward


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
