#!/usr/bin/env python3
"""fault_proxy.py - a fault-injecting HTTP reverse proxy for drctl's tests.

Sits between a client (drctl, the AWS CLI, curl) and moto on 127.0.0.1 and
forwards every request unchanged (method, path, query, every header in order
including Host, which SigV4 signs; the body streamed), except that it can:

  * fail a seeded, deterministic fraction of requests (--fail-rate R --seed S)
    or all of them (--fail-all) with a fault kind drawn from --faults:
      throttle  the service's real throttling error, in its protocol's format:
                query (Action=...)   400 <ErrorResponse>..<Code>Throttling</Code>..
                EC2                  503 <Response><Errors><Error><Code>RequestLimitExceeded</Code>..
                JSON (X-Amz-Target)  400 {"__type":"ThrottlingException","message":"Rate exceeded"}
                                     with an x-amzn-RequestId header
                S3                   503 <Error><Code>SlowDown</Code>..
                Route 53/CloudFront  400 <ErrorResponse>..<Code>Throttling</Code>..
      503       ServiceUnavailable in the protocol's format
      500       InternalError / InternalFailure in the protocol's format
      html500   a 500 with an HTML body (what many real failures look like)
      reset     the connection is reset (TCP RST) without an answer. NB: on a
                reused keep-alive connection libcurl re-sends such a request
                by itself (it cannot tell it from a stale connection), so
                the client code never sees this fault there; use partial
      partial   the status line "HTTP/1.1 200 OK" is sent, then the
                connection is reset: always an error for the client
      slow      the request is forwarded after --slow-seconds (default 2)
    --max-consecutive N: never more than N failed requests in a row, counted
    globally AND per request (same method, path, target/action and length),
    so a client that makes N+1 attempts always gets through, even with
    other requests interleaved. The draws depend only on the seed and the
    order in which eligible requests arrive (sequential clients give the
    same sequence every run).
  * cut a response body: --reset-after-bytes K resets the connection after K
    bytes of the body of the first --reset-count M (default 1) GET responses
    with a 2xx status and a body longer than K (optionally only those whose
    descriptor matches --reset-match REGEX). --cut-style fin closes cleanly
    instead (the client sees a short body).
  * add --latency-ms to every forwarded request.
  * --match REGEX limits fault injection to requests whose descriptor
    "METHOD PATH SERVICE OPERATION REGION" matches (re.search); REGION is
    the SigV4 credential scope's region, "-" for unsigned requests.

Control endpoints on the same port (never forwarded, never counted):
  GET  /__proxy/stats    counts (requests, forwarded, faults per kind, cuts,
                         statuses, upstream errors) and the config, as JSON
  GET  /__proxy/config   the config
  POST /__proxy/config   a JSON object with any of: fail_rate, fail_all,
                         faults, max_consecutive (null = unlimited), seed
                         (re-seeds and clears the streaks), latency_ms,
                         slow_seconds, match, reset_after_bytes, reset_count,
                         reset_match, cut_style, reset_stats (true = zero
                         the counters). Answers the new config.
  POST /__proxy/shutdown stop now

Log: --log FILE (or $FAULT_PROXY_LOG) gets one JSON line per proxied
request (appended): n, time, method, path, query, service, op (X-Amz-Target
or Action), fault, status, bytes (response body bytes sent), cut, ms.

Bounded: listens on 127.0.0.1 only; exits after --max-requests proxied
requests, after --max-seconds (default 1800), on SIGTERM/SIGINT, and when
its parent process goes away (or the process --parent-pid PID). Prints
"listening PORT" (one line, flushed) once it accepts connections; --port 0
picks a free port.

Python 3 standard library only.
"""

import argparse
import http.client
import json
import os
import random
import re
import signal
import socket
import struct
import sys
import threading
import time
import uuid
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PARENT_AT_START = os.getppid()
FAULT_KINDS = ("throttle", "503", "500", "html500", "reset", "partial", "slow")
BUFFER_LIMIT = 8 << 20  # request bodies up to this are buffered (and parsed for Action=)
CHUNK = 256 << 10
CONTROL = "/__proxy/"


class Config:
    FIELDS = ("fail_rate", "fail_all", "faults", "max_consecutive", "seed", "latency_ms", "slow_seconds",
              "match", "reset_after_bytes", "reset_count", "reset_match", "cut_style")

    def __init__(self, a):
        self.fail_rate = a.fail_rate
        self.fail_all = a.fail_all
        self.faults = a.faults
        self.max_consecutive = a.max_consecutive
        self.seed = a.seed
        self.latency_ms = a.latency_ms
        self.slow_seconds = a.slow_seconds
        self.match = a.match
        self.reset_after_bytes = a.reset_after_bytes
        self.reset_count = a.reset_count
        self.reset_match = a.reset_match
        self.cut_style = a.cut_style
        self.validate()

    def validate(self):
        if not 0.0 <= float(self.fail_rate) <= 1.0:
            raise ValueError("fail_rate must be within 0..1")
        self.fail_rate = float(self.fail_rate)
        self.fail_all = bool(self.fail_all)
        if isinstance(self.faults, str):
            self.faults = [f for f in self.faults.split(",") if f]
        self.faults = list(self.faults)
        if not self.faults:
            raise ValueError("faults must not be empty")
        for f in self.faults:
            if f not in FAULT_KINDS:
                raise ValueError("unknown fault kind %r (known: %s)" % (f, ", ".join(FAULT_KINDS)))
        if self.max_consecutive is not None:
            self.max_consecutive = int(self.max_consecutive)
            if self.max_consecutive < 1:
                raise ValueError("max_consecutive must be >= 1 (null = unlimited)")
        self.seed = int(self.seed)
        self.latency_ms = float(self.latency_ms)
        self.slow_seconds = float(self.slow_seconds)
        for k in ("match", "reset_match"):
            v = getattr(self, k)
            if v:
                re.compile(v)
        if self.reset_after_bytes is not None:
            self.reset_after_bytes = int(self.reset_after_bytes)
            if self.reset_after_bytes < 0:
                raise ValueError("reset_after_bytes must be >= 0")
        self.reset_count = int(self.reset_count)
        if self.cut_style not in ("rst", "fin"):
            raise ValueError("cut_style must be rst or fin")

    def as_dict(self):
        return {k: getattr(self, k) for k in self.FIELDS}


class State:
    def __init__(self, cfg, log_path, max_requests):
        self.lock = threading.Lock()
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        self.streak = 0
        self.key_streaks = OrderedDict()
        self.resets_left = cfg.reset_count
        self.max_requests = max_requests
        self.stop = threading.Event()
        self.log = open(log_path, "a", encoding="utf-8") if log_path else None
        self.log_lock = threading.Lock()
        self.zero()

    def zero(self):
        self.seq = 0
        self.stats = {"requests": 0, "forwarded": 0, "faults": {k: 0 for k in FAULT_KINDS}, "cuts": 0,
                      "status": {}, "upstream_errors": 0}

    def reseed(self):
        self.rng = random.Random(self.cfg.seed)
        self.streak = 0
        self.key_streaks.clear()
        self.resets_left = self.cfg.reset_count

    def update(self, changes):
        with self.lock:
            old = self.cfg.as_dict()
            new = dict(old)
            for k, v in changes.items():
                if k == "reset_stats":
                    continue
                if k not in Config.FIELDS:
                    raise ValueError("unknown config field %r" % k)
                new[k] = v
            cfg = Config.__new__(Config)
            for k, v in new.items():
                setattr(cfg, k, v)
            cfg.validate()
            self.cfg = cfg
            if "seed" in changes or "reset_count" in changes or "reset_after_bytes" in changes:
                if "seed" in changes:
                    self.reseed()
                else:
                    self.resets_left = cfg.reset_count
            if changes.get("reset_stats"):
                self.zero()
            return cfg.as_dict()

    def decide(self, desc, key):
        """Returns (seq, fault kind or None). Called once per proxied request."""
        with self.lock:
            self.seq += 1
            self.stats["requests"] += 1
            c = self.cfg
            if c.match and not re.search(c.match, desc):
                return self.seq, None
            if not c.fail_all and c.fail_rate <= 0.0:
                return self.seq, None
            u = self.rng.random()
            kind = c.faults[self.rng.randrange(len(c.faults))]
            fail = c.fail_all or u < c.fail_rate
            ks = self.key_streaks.get(key, 0)
            if fail and c.max_consecutive is not None and (self.streak >= c.max_consecutive
                                                           or ks >= c.max_consecutive):
                fail = False
            if fail:
                self.streak += 1
                self.key_streaks[key] = ks + 1
                self.key_streaks.move_to_end(key)
                while len(self.key_streaks) > 10000:
                    self.key_streaks.popitem(last=False)
                self.stats["faults"][kind] += 1
                return self.seq, kind
            self.streak = 0
            self.key_streaks.pop(key, None)
            return self.seq, None

    def take_cut(self, desc, method, status, length):
        with self.lock:
            c = self.cfg
            if c.reset_after_bytes is None or self.resets_left <= 0 or method != "GET":
                return None
            if not 200 <= status < 300:
                return None
            if length is not None and length <= c.reset_after_bytes:
                return None
            if c.reset_match and not re.search(c.reset_match, desc):
                return None
            self.resets_left -= 1
            self.stats["cuts"] += 1
            return c.reset_after_bytes

    def done(self, rec):
        with self.lock:
            st = rec.get("status")
            if st is not None:
                self.stats["status"][str(st)] = self.stats["status"].get(str(st), 0) + 1
            if rec.get("forwarded"):
                self.stats["forwarded"] += 1
            if rec.get("upstream_error"):
                self.stats["upstream_errors"] += 1
            finished = self.stats["requests"]
        if self.log:
            line = json.dumps({k: v for k, v in rec.items() if k != "forwarded"}, ensure_ascii=False)
            with self.log_lock:
                self.log.write(line + "\n")
                self.log.flush()
        if self.max_requests and finished >= self.max_requests:
            self.stop.set()


# ------------------------------------------------------------ protocols ---
def request_id(seq):
    return str(uuid.UUID(int=(0xF0F0 << 112) | seq))


def classify(method, path, query, headers, body):
    """(protocol, service, operation) of a request."""
    service = ""
    auth = headers.get("Authorization", "")
    m = re.search(r"Credential=[^/,\s]+/\d{8}/[^/]+/([^/]+)/aws4_request", auth)
    if m:
        service = m.group(1)
    else:
        cred = query.get("X-Amz-Credential", [""])[0]
        parts = cred.split("/")
        if len(parts) >= 5:
            service = parts[3]
    target = headers.get("X-Amz-Target")
    if target:
        return "json", service, target
    action = query.get("Action", [None])[0]
    if action is None and body and "x-www-form-urlencoded" in headers.get("Content-Type", ""):
        try:
            form = parse_qs(body.decode("utf-8", "replace"))
            action = form.get("Action", [None])[0]
            if service == "" and form.get("Version", [""])[0] == "2016-11-15":
                service = "ec2"
        except ValueError:
            pass
    if action:
        if service == "" and query.get("Version", [""])[0] == "2016-11-15":
            service = "ec2"
        return ("ec2" if service == "ec2" else "query"), service, action
    if path.startswith("/2013-04-01/"):
        return "route53", service or "route53", method + " " + path.split("?")[0]
    if path.startswith("/2020-05-31/"):
        return "cloudfront", service or "cloudfront", method + " " + path.split("?")[0]
    if service in ("", "s3"):
        return "s3", service or "s3", method
    return "rest-json", service, method


XML_NS = {"route53": "https://route53.amazonaws.com/doc/2013-04-01/",
          "cloudfront": "http://cloudfront.amazonaws.com/doc/2020-05-31/"}


def fault_response(kind, proto, rid, headers):
    """(status, [(header, value)], body bytes) of an injected error."""
    xml = "text/xml"
    if kind == "html500":
        body = ("<!doctype html>\n<html><head><title>500 Internal Server Error</title></head>"
                "<body><h1>Internal Server Error</h1><p>injected by fault_proxy</p></body></html>\n")
        return 500, [("Content-Type", "text/html; charset=utf-8")], body.encode()
    codes = {
        # kind: (status, query/r53 code, type, message, ec2 code, json type, s3 code, s3 message)
        "throttle": (400, "Throttling", "Sender", "Rate exceeded", "RequestLimitExceeded",
                     "ThrottlingException", "SlowDown", "Please reduce your request rate."),
        "503": (503, "ServiceUnavailable", "Receiver", "Service is unavailable. Please try again later.",
                "Unavailable", "ServiceUnavailableException", "ServiceUnavailable",
                "Service is unable to handle request."),
        "500": (500, "InternalFailure", "Receiver", "We encountered an internal error. Please try again.",
                "InternalError", "InternalFailure", "InternalError",
                "We encountered an internal error. Please try again."),
    }
    status, qcode, qtype, msg, ec2code, jtype, s3code, s3msg = codes[kind]
    if proto == "json" or proto == "rest-json":
        ctype = headers.get("Content-Type") or "application/x-amz-json-1.1"
        body = json.dumps({"__type": jtype, "message": msg})
        return status, [("Content-Type", ctype), ("x-amzn-RequestId", rid), ("X-Amzn-ErrorType", jtype)], \
            body.encode()
    if proto == "ec2":
        st = 503 if kind == "throttle" else status
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>%s</Code>'
                "<Message>%s</Message></Error></Errors><RequestID>%s</RequestID></Response>"
                % (ec2code, "Request limit exceeded." if kind == "throttle" else msg, rid))
        return st, [("Content-Type", xml)], body.encode()
    if proto == "s3":
        st = 503 if kind == "throttle" else status
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s</Message>'
                "<RequestId>%s</RequestId><HostId>fault-proxy</HostId></Error>" % (s3code, s3msg, rid))
        return st, [("Content-Type", "application/xml"), ("x-amz-request-id", rid),
                    ("x-amz-id-2", "fault-proxy")], body.encode()
    ns = XML_NS.get(proto)
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse%s><Error><Type>%s</Type><Code>%s</Code>'
            "<Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>"
            % (' xmlns="%s"' % ns if ns else "", qtype, qcode, msg, rid))
    return status, [("Content-Type", xml), ("x-amzn-RequestId", rid)], body.encode()


# --------------------------------------------------------------- server ---
class ClientGone(Exception):
    pass


def rst(sock):
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def wait_sent(sock, timeout=5.0):
    """Wait until the kernel has sent (and had acknowledged) what we wrote."""
    import fcntl
    import termios
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            buf = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
            if struct.unpack("i", buf)[0] == 0:
                return
        except OSError:
            return
        time.sleep(0.005)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fault_proxy"
    timeout = 300  # idle client connections
    state = None  # set in main
    upstream = None  # (host, port)

    def log_message(self, fmt, *args):  # quiet: the JSON log says it all
        pass

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (ClientGone, ConnectionError, socket.timeout, BrokenPipeError):
            self.close_connection = True

    def do_any(self):
        if self.path.startswith(CONTROL):
            return self.control()
        return self.proxy()

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = do_any

    # -- body plumbing
    def body_kind(self):
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            return "chunked", None
        cl = self.headers.get("Content-Length")
        if cl is not None:
            try:
                n = int(cl)
            except ValueError:
                n = -1
            if n < 0:
                raise ClientGone("bad Content-Length")
            return "length", n
        return "none", 0

    def read_exact(self, n):
        data = self.rfile.read(n)
        if len(data) != n:
            raise ClientGone("client body ended early")
        return data

    def iter_body(self):
        kind, n = self.body_kind()
        if kind == "length":
            left = n
            while left > 0:
                chunk = self.rfile.read(min(CHUNK, left))
                if not chunk:
                    raise ClientGone("client body ended early")
                left -= len(chunk)
                yield chunk
        elif kind == "chunked":
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise ClientGone("client chunked body ended early")
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while True:  # trailers
                        t = self.rfile.readline(65537)
                        if t in (b"\r\n", b"\n", b""):
                            break
                    return
                yield self.read_exact(size)
                self.read_exact(2)

    def drain(self, buffered):
        if buffered is None:
            for _ in self.iter_body():
                pass

    # -- control endpoints
    def reply_json(self, status, obj):
        body = (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def control(self):
        st = self.state
        path = urlsplit(self.path).path
        body = b"".join(self.iter_body())
        if path == CONTROL + "stats" and self.command == "GET":
            with st.lock:
                snap = json.loads(json.dumps(st.stats))
                snap["config"] = st.cfg.as_dict()
                snap["streak"] = st.streak
                snap["resets_left"] = st.resets_left
            return self.reply_json(200, snap)
        if path == CONTROL + "config" and self.command == "GET":
            with st.lock:
                return self.reply_json(200, st.cfg.as_dict())
        if path == CONTROL + "config" and self.command == "POST":
            try:
                changes = json.loads(body.decode() or "{}")
                if not isinstance(changes, dict):
                    raise ValueError("expected a JSON object")
                return self.reply_json(200, st.update(changes))
            except (ValueError, TypeError, re.error) as e:
                return self.reply_json(400, {"error": str(e)})
        if path == CONTROL + "shutdown" and self.command == "POST":
            self.reply_json(200, {"status": "stopping"})
            st.stop.set()
            return
        return self.reply_json(404, {"error": "unknown control path %s" % path})

    # -- the proxy
    def proxy(self):
        st = self.state
        t0 = time.monotonic()
        split = urlsplit(self.path)
        target = self.path
        if split.scheme:  # absolute-form: keep the origin-form part
            target = split.path + ("?" + split.query if split.query else "")
        path = split.path or "/"
        query = parse_qs(split.query, keep_blank_values=True)
        kind, length = self.body_kind()
        buffered = None
        if kind == "none":
            buffered = b""
        elif kind == "length" and length <= BUFFER_LIMIT:
            buffered = self.read_exact(length)
        elif kind == "chunked":
            pass  # streamed
        proto, service, op = classify(self.command, path, query, self.headers, buffered)
        # The region comes from the SigV4 credential scope, so that a test
        # can fail one region's calls (a regional outage).
        m = re.search(r"Credential=[^/]+/[0-9]{8}/([a-z0-9-]+)/", self.headers.get("Authorization", ""))
        desc = "%s %s %s %s %s" % (self.command, path, service, op, m.group(1) if m else "-")
        key = "%s %s %s %s" % (self.command, target, op, length)
        seq, fault = st.decide(desc, key)
        rid = request_id(seq)
        rec = {"n": seq, "time": round(time.time(), 3), "method": self.command, "path": path,
               "query": split.query[:200], "service": service, "op": op, "fault": fault, "status": None, "bytes": 0, "cut": False}
        try:
            cfg = st.cfg
            if cfg.latency_ms > 0:
                time.sleep(cfg.latency_ms / 1000.0)
            if fault in ("reset", "partial"):
                self.drain(buffered)
                self.close_connection = True
                if fault == "partial":
                    try:
                        self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                        wait_sent(self.connection)
                    except OSError:
                        pass
                rst(self.connection)
                return
            if fault in ("throttle", "503", "500", "html500"):
                self.drain(buffered)
                status, hdrs, body = fault_response(fault, proto, rid, self.headers)
                rec["status"] = status
                self.send_response_only(status)
                for h, v in hdrs:
                    self.send_header(h, v)
                self.send_header("Content-Length", str(0 if self.command == "HEAD" else len(body)))
                self.send_header("Date", self.date_time_string())
                if self.close_connection:
                    self.send_header("Connection", "close")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)
                    rec["bytes"] = len(body)
                return
            if fault == "slow":
                time.sleep(cfg.slow_seconds)
            self.forward(target, kind, buffered, rec, desc)
        finally:
            rec["ms"] = round((time.monotonic() - t0) * 1000, 1)
            st.done(rec)

    def forward(self, target, kind, buffered, rec, desc):
        st = self.state
        host, port = self.upstream
        conn = http.client.HTTPConnection(host, port, timeout=600)
        try:
            try:
                conn.putrequest(self.command, target, skip_host=True, skip_accept_encoding=True)
                for h, v in self.headers.items():
                    if h.lower() == "expect":
                        continue
                    conn.putheader(h, v)
                conn.endheaders()
                if buffered is not None:
                    if buffered:
                        conn.send(buffered)
                elif kind == "chunked":
                    for chunk in self.iter_body():
                        conn.send(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
                    conn.send(b"0\r\n\r\n")
                else:
                    for chunk in self.iter_body():
                        conn.send(chunk)
                resp = conn.getresponse()
            except (OSError, http.client.HTTPException) as e:
                if isinstance(e, ClientGone):
                    raise
                rec["upstream_error"] = str(e)
                rec["status"] = 502
                body = ("fault_proxy: upstream error: %s\n" % e).encode()
                self.send_response_only(502)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True
                return
            rec["forwarded"] = True
            rec["status"] = resp.status
            self.relay(resp, rec, desc)
        finally:
            conn.close()

    def relay(self, resp, rec, desc):
        st = self.state
        no_body = self.command == "HEAD" or resp.status in (204, 304) or 100 <= resp.status < 200
        length = None
        upstream_chunked = False
        hdrs = []
        for h, v in resp.msg.items():
            hl = h.lower()
            if hl in ("connection", "keep-alive", "proxy-connection"):
                continue
            if hl == "transfer-encoding":
                upstream_chunked = True
                continue
            if hl == "content-length":
                try:
                    length = int(v)
                except ValueError:
                    continue
            hdrs.append((h, v))
        cut = None if no_body else st.take_cut(desc, self.command, resp.status,
                                                 None if upstream_chunked else length)
        chunked_out = False
        if not no_body and (upstream_chunked or length is None):
            if self.request_version == "HTTP/1.1":
                chunked_out = True
                hdrs.append(("Transfer-Encoding", "chunked"))
            else:
                self.close_connection = True  # close-delimited for HTTP/1.0 clients
        if self.close_connection or cut is not None:
            hdrs.append(("Connection", "close"))
            self.close_connection = True
        self.send_response_only(resp.status, resp.reason)
        for h, v in hdrs:
            self.send_header(h, v)
        self.end_headers()  # flushes status and headers
        if no_body:
            return
        sent = 0
        while True:
            try:
                data = resp.read1(CHUNK)
            except (OSError, http.client.HTTPException) as e:
                # the upstream body broke off: pass the break on to the client
                rec["upstream_error"] = "body: %s" % e
                self.close_connection = True
                rst(self.connection)
                return
            if not data:
                break
            n = len(data)
            if cut is not None and sent + n >= cut:
                piece = data[:cut - sent]
                self.write_piece(piece, chunked_out)
                sent += len(piece)
                rec["bytes"] = sent
                rec["cut"] = True
                self.cut_connection()
                return
            self.write_piece(data, chunked_out)
            sent += n
            rec["bytes"] = sent
        if chunked_out:
            self.wfile.write(b"0\r\n\r\n")

    def write_piece(self, piece, chunked):
        if not len(piece):
            return
        try:
            if chunked:
                self.wfile.write(b"%x\r\n" % len(piece))
                self.wfile.write(piece)
                self.wfile.write(b"\r\n")
            else:
                self.wfile.write(piece)
        except (ConnectionError, BrokenPipeError) as e:
            raise ClientGone(str(e))

    def cut_connection(self):
        self.close_connection = True
        sock = self.connection
        if self.state.cfg.cut_style == "fin":
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            return
        wait_sent(sock)
        rst(sock)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):  # no tracebacks for dropped clients
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, ClientGone, socket.timeout, OSError)):
            return
        super().handle_error(request, client_address)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main():
    ap = argparse.ArgumentParser(description="fault-injecting reverse proxy for AWS API tests")
    ap.add_argument("--upstream", required=True, help="http://127.0.0.1:PORT of moto")
    ap.add_argument("--port", type=int, default=0, help="listen port on 127.0.0.1 (0 = pick one)")
    ap.add_argument("--fail-rate", type=float, default=0.0)
    ap.add_argument("--fail-all", action="store_true")
    ap.add_argument("--faults", default="throttle", help="comma list of: " + ",".join(FAULT_KINDS))
    ap.add_argument("--max-consecutive", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--latency-ms", type=float, default=0.0)
    ap.add_argument("--slow-seconds", type=float, default=2.0)
    ap.add_argument("--match", default=None)
    ap.add_argument("--reset-after-bytes", type=int, default=None)
    ap.add_argument("--reset-count", type=int, default=1)
    ap.add_argument("--reset-match", default=None)
    ap.add_argument("--cut-style", choices=("rst", "fin"), default="rst")
    ap.add_argument("--parent-pid", type=int, default=0,
                    help="exit when this process is gone (default: when the parent changes)")
    ap.add_argument("--log", default=os.environ.get("FAULT_PROXY_LOG") or None,
                    help="JSON-lines log, one line per request (default: $FAULT_PROXY_LOG)")
    ap.add_argument("--max-requests", type=int, default=0, help="exit after this many (0 = no limit)")
    ap.add_argument("--max-seconds", type=float, default=1800.0, help="exit after this long (0 = no limit)")
    a = ap.parse_args()
    try:
        cfg = Config(a)
    except ValueError as e:
        ap.error(str(e))
    up = urlsplit(a.upstream)
    if up.scheme != "http" or not up.hostname:
        ap.error("--upstream must be http://HOST:PORT")
    Handler.upstream = (up.hostname, up.port or 80)
    Handler.state = State(cfg, a.log, a.max_requests)
    st = Handler.state

    srv = Server(("127.0.0.1", a.port), Handler)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    t.start()

    def on_signal(signum, frame):
        st.stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    parent = a.parent_pid or PARENT_AT_START
    sys.stdout.write("listening %d\n" % srv.server_address[1])
    sys.stdout.flush()
    deadline = time.monotonic() + a.max_seconds if a.max_seconds > 0 else None
    why = "signal or limit"
    while not st.stop.wait(0.25):
        gone = not pid_alive(parent) if a.parent_pid else os.getppid() != parent
        if gone:
            why = "parent exited"
            break
        if deadline and time.monotonic() >= deadline:
            why = "max-seconds reached"
            break
    if st.max_requests and st.stats["requests"] >= st.max_requests:
        why = "max-requests reached"
    sys.stderr.write("fault_proxy: stopping (%s) after %d requests\n" % (why, st.stats["requests"]))
    try:
        srv.server_close()
    except OSError:
        pass
    if st.log:
        with st.log_lock:
            st.log.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
