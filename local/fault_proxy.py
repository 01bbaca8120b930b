#!/usr/bin/env python3
"""A loopback proxy that gives the Lambda's S3 calls S3's real failure modes, on purpose.

The local stack routes only the Lambda's S3 clients here (their `AWS_ENDPOINT_URL_S3`), so a
workflow meets what S3 does to it at scale, while the tests' own clients read the backend
directly and assert on the truth. Each request may get one of:
  * `slowdown`: 503 SlowDown before forwarding (the request is not applied);
  * `internal_after`: forwarded and applied, the answer replaced by 500 InternalError, so a
    retry repeats a call that already took effect;
  * `drop`: the connection closed with no answer, half the time before forwarding and half
    after the request was applied;
and every request waits a random latency within a range. Faults are drawn from a seeded
`random.Random`, four draws per request whatever the settings, so the n-th request's fate
depends only on the seed and n (which request is n-th depends on thread timing). Targeted rules
(bucket, method, query substring, region) answer a chosen error before or after forwarding, for
tests; a rule on a region alone is that region's outage (the region is the one the request is
signed for: SigV4's credential scope).

Control API on the proxy's own port, never forwarded: `GET /__s3dr/faults` returns settings,
rules, counters and the most recent faults; `POST /__s3dr/faults` with a JSON object sets any of
`rate`, `latency_ms` ([lo, hi]), `seed`, `kinds`, `rules`, `trace` (true: keep each request's
method, target and start and end times, the last 5,000, under "trace"), and `"reset_counts": true`
(also empties the trace).

Standalone: `python local/fault_proxy.py --backend http://127.0.0.1:4566 --rate 0.2`.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import http.server
import json
import random
import re
import sys
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from typing import Any

CONTROL_PATH = "/__s3dr/faults"
KINDS = ("slowdown", "internal_after", "drop")
COUNTERS = ("requests", "slowdown", "internal_after", "drop", "rule")
# Headers about one connection, not the request: never forwarded as received. The body is
# forwarded de-chunked with a Content-Length, and `Expect: 100-continue` was already answered.
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
              "upgrade", "expect", "proxy-authenticate", "proxy-authorization", "content-length"}
RECENT_FAULTS = 500
TRACE_LIMIT = 5000
IDLE_SECONDS = 2.0  # a pooled backend connection older than this may have been closed by it
MAX_IDLE = 64
BACKEND_TIMEOUT_SECONDS = 600
ERROR_MESSAGES = {
    "SlowDown": "Please reduce your request rate.",
    "InternalError": "We encountered an internal error. Please try again.",
}


def log(message: str) -> None:
    print(f"[fault-proxy] {message}", file=sys.stderr, flush=True)


@dataclass
class Decision:
    """What happens to one request: a delay, then at most one fault."""

    number: int
    delay_seconds: float = 0.0
    rule: dict[str, Any] | None = None
    kind: str | None = None  # one of KINDS
    after: bool = False  # the fault comes after forwarding (the request was applied)

    def describe(self) -> str:
        if self.rule is not None:
            return f"rule:{self.rule['status']} {self.rule['code']} ({'after' if self.after else 'before'})"
        if self.kind == "drop":
            return "drop_after" if self.after else "drop_before"
        return self.kind or "none"


def parse_rule(raw: Any) -> dict[str, Any]:
    """One targeted rule, checked now so a typo fails the POST rather than silently never matching."""
    if not isinstance(raw, dict):
        raise ValueError(f"a rule must be an object, not {raw!r}")
    known = {"bucket", "method", "query", "region", "status", "code", "message", "when", "times"}
    if unknown := set(raw) - known:
        raise ValueError(f"unknown rule fields {sorted(unknown)}; known: {sorted(known)}")
    if not isinstance(raw.get("code"), str) or not raw["code"]:
        raise ValueError(f"a rule needs an error code, e.g. \"AccessDenied\": {raw!r}")
    rule = {
        "bucket": raw.get("bucket"),
        "method": raw["method"].upper() if isinstance(raw.get("method"), str) else None,
        "query": raw.get("query"),
        "region": raw.get("region"),
        "status": int(raw.get("status", 500)),
        "code": raw["code"],
        "message": str(raw.get("message", ERROR_MESSAGES.get(raw["code"], raw["code"]))),
        "when": raw.get("when", "before"),
        "times": raw.get("times"),
    }
    if rule["when"] not in ("before", "after"):
        raise ValueError(f"rule \"when\" must be \"before\" or \"after\", not {rule['when']!r}")
    if rule["times"] is not None and (not isinstance(rule["times"], int) or rule["times"] < 0):
        raise ValueError(f"rule \"times\" must be a count or null, not {rule['times']!r}")
    if not 100 <= rule["status"] <= 599:
        raise ValueError(f"rule status {rule['status']} is not an HTTP status")
    return rule


class FaultState:
    """Settings, rules and counters shared by every handler thread, all under one lock."""

    def __init__(self, rate: float, latency_ms: tuple[int, int], seed: int) -> None:
        self.lock = threading.Lock()
        self.rate, self.latency_ms, self.seed = 0.0, (0, 0), seed
        self.kinds: list[str] = list(KINDS)
        self.rules: list[dict[str, Any]] = []
        self.random = random.Random(seed)
        self.number = 0
        self.counts = dict.fromkeys(COUNTERS, 0)
        self.recent: collections.deque[dict[str, Any]] = collections.deque(maxlen=RECENT_FAULTS)
        self.tracing = False
        self.trace: collections.deque[dict[str, Any]] = collections.deque(maxlen=TRACE_LIMIT)
        self.update({"rate": rate, "latency_ms": list(latency_ms)})

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "rate": self.rate, "latency_ms": list(self.latency_ms), "seed": self.seed,
                "kinds": list(self.kinds), "rules": [dict(rule) for rule in self.rules],
                "counts": dict(self.counts), "recent": list(self.recent),
                "tracing": self.tracing, "trace": list(self.trace),
            }

    def record(self, method: str, target: str, started: float, ended: float) -> None:
        """One request's span, if tracing: what the benchmarks count sequential round trips from."""
        with self.lock:
            if self.tracing:
                self.trace.append({"method": method, "target": target[:200], "start": started, "end": ended})

    def update(self, changes: dict[str, Any]) -> None:
        """Validate everything first, then apply it all: a bad POST changes nothing."""
        known = {"rate", "latency_ms", "seed", "kinds", "rules", "trace", "reset_counts"}
        if unknown := set(changes) - known:
            raise ValueError(f"unknown settings {sorted(unknown)}; known: {sorted(known)}")
        rate, latency, kinds, rules = self.rate, self.latency_ms, self.kinds, self.rules
        if "rate" in changes:
            rate = float(changes["rate"])
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"rate must be within 0..1, not {rate}")
        if "latency_ms" in changes:
            low, high = (int(value) for value in changes["latency_ms"])
            if not 0 <= low <= high:
                raise ValueError(f"latency_ms must be [lo, hi] with 0 <= lo <= hi, not {changes['latency_ms']}")
            latency = (low, high)
        if "kinds" in changes:
            kinds = list(changes["kinds"])
            if not kinds or set(kinds) - set(KINDS):
                raise ValueError(f"kinds must be a non-empty subset of {list(KINDS)}, not {kinds}")
        if "rules" in changes:
            rules = [parse_rule(raw) for raw in changes["rules"] or []]
        if "trace" in changes and not isinstance(changes["trace"], bool):
            raise ValueError(f"trace must be true or false, not {changes['trace']!r}")
        seed = int(changes["seed"]) if "seed" in changes else None
        with self.lock:
            self.rate, self.latency_ms, self.kinds, self.rules = rate, latency, kinds, rules
            if seed is not None:
                self.seed, self.random, self.number = seed, random.Random(seed), 0
            if "trace" in changes:
                self.tracing = changes["trace"]
            if changes.get("reset_counts"):
                self.counts = dict.fromkeys(COUNTERS, 0)
                self.trace.clear()
                self.recent.clear()

    def decide(self, method: str, bucket: str | None, query: str, target: str, region: str | None = None) -> Decision:
        with self.lock:
            self.number += 1
            self.counts["requests"] += 1
            # Always four draws, so a request's fate does not depend on the settings of others.
            fault_draw, kind_draw, half_draw, latency_draw = (self.random.random() for _ in range(4))
            low, high = self.latency_ms
            decision = Decision(number=self.number, delay_seconds=(low + (high - low) * latency_draw) / 1000)
            for rule in self.rules:
                if rule["times"] == 0:
                    continue
                if rule["bucket"] is not None and rule["bucket"] != bucket:
                    continue
                if rule["method"] is not None and rule["method"] != method:
                    continue
                if rule["query"] is not None and rule["query"] not in query:
                    continue
                if rule.get("region") is not None and rule["region"] != region:
                    continue
                if rule["times"] is not None:
                    rule["times"] -= 1
                decision.rule, decision.after = dict(rule), rule["when"] == "after"
                self.counts["rule"] += 1
                break
            else:
                if fault_draw < self.rate:
                    decision.kind = self.kinds[min(int(kind_draw * len(self.kinds)), len(self.kinds) - 1)]
                    decision.after = decision.kind == "internal_after" or (decision.kind == "drop" and half_draw < 0.5)
                    self.counts[decision.kind] += 1
            if decision.rule is not None or decision.kind is not None:
                self.recent.append({"n": decision.number, "method": method, "target": target[:200],
                                    "fault": decision.describe(), "at": round(time.time(), 3)})
            return decision


class BackendPool:
    """Idle keep-alive connections to the backend, so thousands of requests do not leave
    thousands of sockets in TIME_WAIT; a connection serves one request at a time."""

    def __init__(self, backend_url: str) -> None:
        parsed = urllib.parse.urlsplit(backend_url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"backend {backend_url!r} is not an http(s) URL")
        self.https = parsed.scheme == "https"
        self.host, self.port = parsed.hostname, parsed.port or (443 if self.https else 80)
        self.idle: list[tuple[http.client.HTTPConnection, float]] = []
        self.lock = threading.Lock()

    def get(self, fresh: bool) -> tuple[http.client.HTTPConnection, bool]:
        """A connection, and whether it was reused (a reused one may have been closed by the backend)."""
        if not fresh:
            with self.lock:
                while self.idle:
                    connection, since = self.idle.pop()
                    if time.monotonic() - since < IDLE_SECONDS:
                        return connection, True
                    connection.close()
        kind = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
        return kind(self.host, self.port, timeout=BACKEND_TIMEOUT_SECONDS), False

    def put(self, connection: http.client.HTTPConnection) -> None:
        with self.lock:
            if len(self.idle) < MAX_IDLE:
                self.idle.append((connection, time.monotonic()))
                return
        connection.close()

    def close(self) -> None:
        with self.lock:
            idle, self.idle = self.idle, []
        for connection, _ in idle:
            connection.close()


class FaultProxyServer(http.server.ThreadingHTTPServer):
    """One thread per client connection; the Lambda's workers open dozens at once."""

    daemon_threads = True
    request_queue_size = 256  # the default 5 drops SYNs when 60 connections open together

    def __init__(self, address: tuple[str, int], backend_url: str, state: FaultState) -> None:
        self.backend = BackendPool(backend_url)
        self.backend_url = backend_url
        self.state = state
        super().__init__(address, FaultProxyHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (as the SDK does on its own timeouts) is not news."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class FaultProxyHandler(http.server.BaseHTTPRequestHandler):
    """Reads a request, asks FaultState what to do with it, and forwards, fails or drops it."""

    protocol_version = "HTTP/1.1"  # keep-alive, as S3 offers; also answers Expect: 100-continue
    server: FaultProxyServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        pass

    def _handle(self) -> None:
        if self.path.startswith(CONTROL_PATH):
            self._control()
            return
        started = time.time()
        try:
            self._serve()
        finally:
            self.server.state.record(self.command, self.path, started, time.time())

    def _serve(self) -> None:
        body = self._read_body()
        if body is None:
            return
        path, _, query = self.path.partition("?")
        decision = self.server.state.decide(self.command, self._bucket(path), query, self.path, self._region())
        if decision.delay_seconds > 0:
            time.sleep(decision.delay_seconds)
        if not decision.after:
            if decision.rule is not None:
                self._send_error(decision.rule["status"], decision.rule["code"], decision.rule["message"], path)
                return
            if decision.kind == "slowdown":
                self._send_error(503, "SlowDown", ERROR_MESSAGES["SlowDown"], path)
                return
            if decision.kind == "drop":
                self.close_connection = True
                return
        try:
            connection, response = self._forward(body)
        except OSError as error:
            log(f"backend {self.server.backend_url} failed for {self.command} {self.path[:200]}: {error!r}")
            self._send_error(502, "BadGateway", f"fault proxy: backend failed: {error}", path)
            return
        if decision.after:
            try:
                response.read()  # discarded, but read, so the backend connection can serve again
                self._release(connection, response)
            except OSError:
                connection.close()
            if decision.rule is not None:
                self._send_error(decision.rule["status"], decision.rule["code"], decision.rule["message"], path)
            elif decision.kind == "internal_after":
                self._send_error(500, "InternalError", ERROR_MESSAGES["InternalError"], path)
            else:  # drop after the request was applied
                self.close_connection = True
            return
        self._relay(connection, response)

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_OPTIONS = do_PATCH = _handle

    # -- request side --
    def _region(self) -> str | None:
        """The region the request is signed for: `Credential=<key>/<date>/<region>/s3/aws4_request`."""
        match = re.search(r"Credential=[^/,]+/\d{8}/([^/,]+)/s3/", self.headers.get("Authorization", ""))
        return match[1] if match else None

    def _read_body(self) -> bytes | None:
        """The request body, de-chunked; None (connection closed) if its framing is broken."""
        try:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                parts = []
                while True:
                    size_line = self.rfile.readline(65537)
                    size = int(size_line.split(b";", 1)[0].strip(), 16)
                    if size == 0:
                        while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                            pass  # trailers: none that S3 needs at the HTTP level
                        return b"".join(parts)
                    parts.append(self.rfile.read(size))
                    self.rfile.readline(3)
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""
        except (ValueError, OSError) as error:
            log(f"unreadable request body for {self.command} {self.path[:200]}: {error!r}")
            self.close_connection = True
            return None

    def _bucket(self, path: str) -> str | None:
        """The bucket from a virtual-host Host (bucket.127.0.0.1:port, bucket.s3...), else
        from the path-style URL's first segment."""
        host = (self.headers.get("Host") or "").lower()
        host = host if host.endswith("]") else host.rsplit(":", 1)[0]  # without the port
        for suffix in (".127.0.0.1", ".localhost", ".localhost.localstack.cloud"):
            if host.endswith(suffix) and len(host) > len(suffix):
                return host[: -len(suffix)]
        if ".s3." in host or ".s3-" in host:
            return host.split(".s3", 1)[0]
        first = path.lstrip("/").split("/", 1)[0]
        return urllib.parse.unquote(first) or None

    def _forward(self, body: bytes) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """Send the request as received (Host included: moto does not check signatures); one
        retry on a fresh connection if a pooled one turns out closed before any answer."""
        hop = HOP_BY_HOP | {name.strip().lower() for name in self.headers.get("Connection", "").split(",")}
        had_length = "Content-Length" in self.headers or "Transfer-Encoding" in self.headers
        for attempt in range(2):
            connection, reused = self.server.backend.get(fresh=attempt > 0)
            try:
                connection.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for name, value in self.headers.items():
                    if name.lower() not in hop:
                        connection.putheader(name, value)
                if body or had_length:
                    connection.putheader("Content-Length", str(len(body)))
                connection.endheaders(body or None)
                return connection, connection.getresponse()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                connection.close()
                if not reused:
                    raise
            except BaseException:
                connection.close()
                raise
        raise AssertionError("unreachable")

    # -- response side --
    def _relay(self, connection: http.client.HTTPConnection, response: http.client.HTTPResponse) -> None:
        """Status, headers and body as the backend sent them; the body streamed, re-chunked
        only if the backend chunked it or gave no length."""
        no_body = self.command == "HEAD" or response.status in (204, 304) or 100 <= response.status < 200
        length = response.getheader("Content-Length")
        chunked = not no_body and length is None
        try:
            self.send_response_only(response.status, response.reason)
            for name, value in response.getheaders():
                if name.lower() not in HOP_BY_HOP or (name.lower() == "content-length" and not chunked):
                    self.send_header(name, value)
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if no_body:
                response.read()  # nothing, but marks the answer complete
            else:
                while piece := response.read1(65536) if chunked else response.read(65536):
                    self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece)
                if chunked:
                    self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            # The client went away mid-answer: the backend connection is mid-answer too.
            connection.close()
            self.close_connection = True
            return
        self._release(connection, response)

    def _release(self, connection: http.client.HTTPConnection, response: http.client.HTTPResponse) -> None:
        if response.isclosed() and not response.will_close:
            self.server.backend.put(connection)
        else:
            connection.close()

    def _send_error(self, status: int, code: str, message: str, resource: str) -> None:
        """An S3 error as S3 sends it: XML with Code and Message (what the SDK classifies on),
        x-amz-request-id; no body for HEAD, as S3 (the SDK then goes by the status)."""
        request_id = uuid.uuid4().hex[:16].upper()
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{_xml(message)}</Message>"
            f"<Resource>{_xml(resource)}</Resource><RequestId>{request_id}</RequestId>"
            f"<HostId>{uuid.uuid4().hex}</HostId></Error>"
        ).encode()
        if self.command == "HEAD":
            body = b""
        reason = http.server.BaseHTTPRequestHandler.responses.get(status, ("Error",))[0]
        self.send_response_only(status, reason)
        self.send_header("x-amz-request-id", request_id)
        self.send_header("x-amz-id-2", uuid.uuid4().hex)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Date", self.date_time_string())
        self.send_header("Server", "AmazonS3")
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    # -- control API --
    def _control(self) -> None:
        state = self.server.state
        body = self._read_body()
        if body is None:
            return
        status = 200
        if self.command == "POST":
            try:
                changes = json.loads(body or b"{}")
                if not isinstance(changes, dict):
                    raise ValueError("expected a JSON object")
                state.update(changes)
                answer = state.snapshot()
            except (ValueError, TypeError) as error:
                status, answer = 400, {"error": str(error)}
        elif self.command == "GET":
            answer = state.snapshot()
        else:
            status, answer = 405, {"error": "GET or POST"}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def start(backend_url: str, rate: float, latency_ms: tuple[int, int], seed: int,
          port: int = 0) -> tuple[FaultProxyServer, str]:
    """Serve on 127.0.0.1 in a daemon thread; `server.shutdown()` stops it."""
    server = FaultProxyServer(("127.0.0.1", port), backend_url, FaultState(rate, latency_ms, seed))
    threading.Thread(target=server.serve_forever, name="fault-proxy", daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def parse_latency(text: str) -> tuple[int, int]:
    """"LO,HI" in milliseconds (or one number for a fixed delay)."""
    parts = [int(part) for part in text.split(",")]
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2 or not 0 <= parts[0] <= parts[1]:
        raise argparse.ArgumentTypeError(f"expected LO,HI milliseconds with 0 <= LO <= HI, not {text!r}")
    return parts[0], parts[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", required=True, help="the S3 to forward to, e.g. http://127.0.0.1:4566")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 picks a free one)")
    parser.add_argument("--rate", type=float, default=0.0, help="share of requests that get a fault (0..1)")
    parser.add_argument("--latency-ms", type=parse_latency, default=(0, 0), help="LO,HI added to every request")
    parser.add_argument("--seed", type=int, default=11, help="seed of the fault draws")
    args = parser.parse_args(argv)
    server, url = start(args.backend, args.rate, args.latency_ms, args.seed, port=args.port)
    print(f"S3DR_FAULT_PROXY_URL={url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        server.backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
