#!/usr/bin/env python3
"""A stand-in for the ECS container credentials endpoint and EC2 IMDSv2.

Listens on 127.0.0.1 on an ephemeral port and prints the port on the first
line of stdout, so a test can start it, read the port and point
AWS_CONTAINER_CREDENTIALS_FULL_URI or AWS_EC2_METADATA_SERVICE_ENDPOINT at it.
Exits when stdin reaches end of file (the test that started it died) or on
SIGTERM.

Endpoints:
  GET  /ecs/credentials                           ECS; checks Authorization
  PUT  /latest/api/token                          IMDSv2 token; needs the TTL header
  GET  /latest/meta-data/iam/security-credentials/         role name; needs the token
  GET  /latest/meta-data/iam/security-credentials/<role>   credentials; needs the token
  GET  /_counts                                   request counters as JSON

Every credentials response carries a fresh AccessKeyId ("ASIAFAKE<n>") so a
test can tell a cached answer from a re-fetched one.
"""
import argparse
import datetime
import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

ROLE = "drctl-test-role"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--expires-in", type=int, default=3600,
                    help="credentials expire this many seconds from each response")
    ap.add_argument("--ecs-token", default=None,
                    help="Authorization value the ECS endpoint requires (default: none)")
    ap.add_argument("--secret", default="fakeSecretKeyFromMetadata",
                    help="the SecretAccessKey to hand out")
    ap.add_argument("--no-role", action="store_true",
                    help="IMDS has no role attached (404 on the role list)")
    ap.add_argument("--code", default="Success", help="IMDS Code field")
    ap.add_argument("--bad-json", action="store_true",
                    help="credentials responses are not JSON")
    args = ap.parse_args()

    lock = threading.Lock()
    counts = {"ecs": 0, "token": 0, "role": 0, "creds": 0, "rejected": 0}
    tokens = set()

    def creds_doc(n, code=None):
        exp = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(
            seconds=args.expires_in)
        doc = {
            "AccessKeyId": "ASIAFAKE%d" % n,
            "SecretAccessKey": args.secret,
            "Token": "fakeSessionToken%d" % n,
            "Expiration": exp.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if code is not None:
            doc = {"Code": code, "LastUpdated": "2026-01-01T00:00:00Z",
                   "Type": "AWS-HMAC", **doc}
        return doc

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):  # keep the test output clean
            pass

        def send(self, status, body, ctype="text/plain"):
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
                ctype = "application/json"
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def reject(self, status, why):
            with lock:
                counts["rejected"] += 1
            self.send(status, why)

        def imds_token_ok(self):
            tok = self.headers.get("X-aws-ec2-metadata-token")
            with lock:
                return tok in tokens

        def do_PUT(self):
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            if self.path != "/latest/api/token":
                return self.reject(404, "not found")
            ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
            if not ttl or not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
                return self.reject(400, "missing or bad TTL header")
            with lock:
                counts["token"] += 1
                tok = "imds-token-%d" % counts["token"]
                tokens.add(tok)
            self.send(200, tok)

        def do_GET(self):
            base = "/latest/meta-data/iam/security-credentials/"
            if self.path == "/_counts":
                with lock:
                    return self.send(200, dict(counts))
            if self.path.startswith("/ecs/"):
                if args.ecs_token is not None and \
                        self.headers.get("Authorization") != args.ecs_token:
                    return self.reject(403, "bad authorization")
                with lock:
                    counts["ecs"] += 1
                    n = counts["ecs"]
                if args.bad_json:
                    return self.send(200, "<html>not json</html>")
                return self.send(200, creds_doc(n))
            if self.path == base:
                if not self.imds_token_ok():
                    return self.reject(401, "token required")
                with lock:
                    counts["role"] += 1
                if args.no_role:
                    return self.send(404, "not found")
                return self.send(200, ROLE)
            if self.path == base + ROLE:
                if not self.imds_token_ok():
                    return self.reject(401, "token required")
                with lock:
                    counts["creds"] += 1
                    n = counts["creds"]
                if args.bad_json:
                    return self.send(200, "{not json")
                return self.send(200, creds_doc(n, code=args.code))
            return self.reject(404, "not found")

    server = HTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)

    def stop(*_):
        threading.Thread(target=server.shutdown, daemon=True).start()

    def watch_stdin():
        # The parent holds our stdin open; EOF means it is gone. os.read, not
        # sys.stdin: a daemon thread blocked in a buffered reader aborts the
        # interpreter at shutdown.
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        stop()

    signal.signal(signal.SIGTERM, stop)
    threading.Thread(target=watch_stdin, daemon=True).start()
    server.serve_forever(poll_interval=0.1)
    server.server_close()
    sys.stdout.flush()
    # Skip interpreter finalisation: the stdin thread may still be blocked.
    os._exit(0)


if __name__ == "__main__":
    main()
