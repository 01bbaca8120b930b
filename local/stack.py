#!/usr/bin/env python3
"""The s3-dr local stack: AWS on a laptop, with the real workflow and the real Lambda.

One HTTP port (default 4566) serves three things:
  * moto 5.2.5 (S3, KMS, IAM, STS, Step Functions with real ASL execution), for every request
    that is not one of the two below;
  * the Lambda Invoke API (POST /2015-03-31/functions/{name}/invocations), which moto's ASL
    interpreter calls for `arn:aws:states:::lambda:invoke` tasks (it sends them to
    localhost:$MOTO_PORT, and MOTO_PORT is this port);
  * the Lambda Runtime API (/2018-06-01/runtime/...), polled by the real `s3-dr-lambda` binary,
    which this script starts as a few worker processes, as Lambda would.

So a task invocation travels: moto interpreter -> Invoke API -> queue -> the binary's
`lambda_runtime` loop -> its response or error -> Invoke API answer with Lambda's semantics
(200, `X-Amz-Function-Error: Unhandled`, `x-amzn-RequestId`), so ASL Retry/Catch see the real
`errorType`. (`cargo lambda watch` answers errors with HTTP 500, which moto's interpreter
turns into `States.Runtime`: see ../shared/reference/emulator-facts.md.)

Faults, for tests of what AWS does at scale: `--s3-fault-rate`, `--s3-latency-ms`,
`--s3-fault-proxy` put local/fault_proxy.py (SlowDown, InternalError after applying, dropped
connections, latency; control API `<proxy>/__s3dr/faults`, announced as S3DR_FAULT_PROXY_URL)
between the Lambda and S3 only, so clients still see the truth; and
`POST /__s3dr/lambda-faults` on this port makes chosen invocations fail as a Lambda timeout
(Sandbox.Timedout) or a killed runtime (Lambda.Unknown), though they still run.

On start it enables real Step Functions execution, creates the IAM roles and one state machine
per `statemachine/*.asl.json` (placeholders substituted as CDK does), prints the environment a
client needs, and runs until Ctrl-C (or, with --exit-on-stdin-eof, until its parent goes away).
It stops exactly what it started: its server threads and its Lambda worker processes.
"""

from __future__ import annotations

import argparse
import glob
import json
import logging
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

ACCOUNT_ID = "123456789012"
HOME_REGION_DEFAULT = "us-east-1"
FUNCTION_NAME = "s3-dr-step"
INVOKE_TIMEOUT_SECONDS = 300

# Defaults for the Lambda's configuration on the local stack; any S3DR_* variable in this
# process's environment wins.
LOCAL_LAMBDA_DEFAULTS = {
    "S3DR_DR_REGION": "us-east-2",
    "S3DR_REPLICATION_ROLE_ARN": f"arn:aws:iam::{ACCOUNT_ID}:role/s3-dr-replication",
    # moto has no S3 Batch Operations: the Lambda copies existing objects itself here.
    "S3DR_BACKFILL": "copy",
    # The role the step Lambda runs as (provisioned below, as the CDK stack makes one): the
    # CloudTrail events it causes are its own echo, ignored.
    "S3DR_STEP_ROLE_ARN": f"arn:aws:iam::{ACCOUNT_ID}:role/s3-dr-step",
    # The sweep paces its starts for a Lambda whose concurrency is reserved (default 2/s). Here
    # the Lambda is a pool of local workers with no quota, and tests/sweep.rs starts 120
    # executions in one sweep: 20/s keeps that to seconds. The pacing is unit-tested.
    "S3DR_SWEEP_START_RATE": "20",
}
# The DR key the CDK app creates in the DR region when none is configured (S3DR_DR_KMS_KEY's
# default): the local stack makes the same, so the default configuration works here too.
DR_KEY_ALIAS = "alias/s3-dr"


def log(message: str) -> None:
    print(f"[local-stack] {message}", file=sys.stderr, flush=True)


@dataclass
class Invocation:
    request_id: str
    payload: bytes
    done: threading.Event = field(default_factory=threading.Event)
    error: bool = False
    body: bytes = b""


class LambdaService:
    """Lambda's Invoke API in front, the Runtime API behind, a queue in between."""

    def __init__(self, function_arn: str) -> None:
        self.function_arn = function_arn
        self.pending: queue.Queue[Invocation] = queue.Queue()
        self.in_flight: dict[str, Invocation] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.faults: list[dict[str, Any]] = []  # queued by POST /__s3dr/lambda-faults
        self.injected: list[dict[str, Any]] = []

    # -- Lambda-level faults (the control API /__s3dr/lambda-faults) --
    # Emulated: what Step Functions sees when a function times out or its runtime dies (out of
    # memory, a crash): the Invoke API answers 200 with `X-Amz-Function-Error: Unhandled` and
    # errorType Sandbox.Timedout or Lambda.Unknown, which the ASL's Retry/Catch then handle; and
    # the function did run, with whatever writes it made. "when": "start" (the default) answers
    # at once while the function runs on (so a retry may overlap it, as after a Step Functions
    # TimeoutSeconds); "end" answers once the function has finished all its work (killed just
    # before it could return). Not emulated: the process is not killed or cut short (a run
    # never stops half-way through one S3 call), no cold start follows, and the worker's own
    # result is accepted by the Runtime API and discarded.
    FAULT_MESSAGES = {
        "Sandbox.Timedout": f"Task timed out after {INVOKE_TIMEOUT_SECONDS}.00 seconds",
        "Lambda.Unknown": "RequestId: {request_id} Error: Runtime exited with error: signal: killed",
    }

    def queue_faults(self, request: dict[str, Any]) -> None:
        """Validate a POST, then queue its faults in order (`"clear": true` first forgets
        what was queued and injected before)."""
        entries = request.get("next") or []
        if not isinstance(entries, list) or not all(
                isinstance(entry, dict) and isinstance(entry.get("errorType"), str) for entry in entries):
            raise ValueError('expected {"next": [{"errorType": "Sandbox.Timedout"}, ...], "match": "..."}')
        faults = [{"errorType": entry["errorType"],
                   "errorMessage": entry.get("errorMessage"),
                   "match": entry.get("match", request.get("match")),
                   "when": entry.get("when", "start")} for entry in entries]
        if any(fault["when"] not in ("start", "end") for fault in faults):
            raise ValueError('"when" is "start" (answer at once) or "end" (after the function ran)')
        with self.lock:
            if request.get("clear"):
                self.faults.clear()
                self.injected.clear()
            self.faults.extend(faults)

    def fault_report(self) -> dict[str, Any]:
        with self.lock:
            return {"pending": [dict(fault) for fault in self.faults],
                    "injected": [dict(entry) for entry in self.injected]}

    def _take_fault(self, invocation: Invocation) -> dict[str, Any] | None:
        """The first queued fault whose `match` is in the payload: as sent, or re-serialized
        spaced or compact, so `"step": "X"` and `"step":"X"` both match."""
        text = invocation.payload.decode(errors="replace")
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        forms = (text, json.dumps(parsed), json.dumps(parsed, separators=(",", ":")))
        with self.lock:
            for index, fault in enumerate(self.faults):
                if fault["match"] is None or any(fault["match"] in form for form in forms):
                    del self.faults[index]
                    step = parsed.get("step") if isinstance(parsed, dict) else None
                    self.injected.append({"errorType": fault["errorType"], "step": step, "when": fault["when"],
                                          "requestId": invocation.request_id, "at": round(time.time(), 3)})
                    return fault
        return None

    # -- Invoke API (called by moto's ASL interpreter and by any SDK client) --
    def invoke(self, payload: bytes, invocation_type: str) -> tuple[int, dict[str, str], bytes]:
        invocation = Invocation(request_id=str(uuid.uuid4()), payload=payload or b"{}")
        headers = {"x-amzn-RequestId": invocation.request_id, "X-Amz-Executed-Version": "$LATEST"}
        fault = self._take_fault(invocation) if invocation_type != "Event" else None
        self.pending.put(invocation)
        if invocation_type == "Event":
            return 202, headers, b""
        if fault is not None:
            if fault["when"] == "end":
                invocation.done.wait(INVOKE_TIMEOUT_SECONDS)
            message = fault["errorMessage"] or self.FAULT_MESSAGES.get(fault["errorType"], fault["errorType"])
            body = json.dumps({"errorType": fault["errorType"],
                               "errorMessage": message.replace("{request_id}", invocation.request_id)}).encode()
            log(f"injected {fault['errorType']} into invocation {invocation.request_id} ({fault['when']})")
            return 200, {**headers, "X-Amz-Function-Error": "Unhandled"}, body
        if not invocation.done.wait(INVOKE_TIMEOUT_SECONDS):
            with self.lock:
                self.in_flight.pop(invocation.request_id, None)
            body = json.dumps(
                {"errorType": "Sandbox.Timedout",
                 "errorMessage": f"Task timed out after {INVOKE_TIMEOUT_SECONDS} seconds"}
            ).encode()
            return 200, {**headers, "X-Amz-Function-Error": "Unhandled"}, body
        if invocation.error:
            headers["X-Amz-Function-Error"] = "Unhandled"
        return 200, headers, invocation.body

    # -- Runtime API (polled by the s3-dr-lambda processes) --
    def next_invocation(self) -> Invocation | None:
        while not self.stopping.is_set():
            try:
                invocation = self.pending.get(timeout=0.5)
            except queue.Empty:
                continue
            with self.lock:
                self.in_flight[invocation.request_id] = invocation
            return invocation
        return None

    def complete(self, request_id: str, body: bytes, error: bool) -> bool:
        with self.lock:
            invocation = self.in_flight.pop(request_id, None)
        if invocation is None:
            return False
        invocation.body, invocation.error = body, error
        invocation.done.set()
        return True


class FrontApp:
    """WSGI app: Lambda's two APIs on their own paths, everything else to moto."""

    INVOKE = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")
    RUNTIME_RESULT = re.compile(r"^/2018-06-01/runtime/invocation/(?P<id>[^/]+)/(?P<kind>response|error)$")

    def __init__(self, moto_app: Callable, lambdas: LambdaService) -> None:
        self.moto_app = moto_app
        self.lambdas = lambdas

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> list[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if method == "POST" and self.INVOKE.match(path):
            invocation_type = environ.get("HTTP_X_AMZ_INVOCATION_TYPE", "RequestResponse")
            status, headers, body = self.lambdas.invoke(self._body(environ), invocation_type)
            return self._respond(start_response, status, headers, body)
        if path == "/2018-06-01/runtime/invocation/next":
            invocation = self.lambdas.next_invocation()
            if invocation is None:
                return self._respond(start_response, 503, {}, b"stopping")
            headers = {
                "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                "Lambda-Runtime-Deadline-Ms": str(int((time.time() + INVOKE_TIMEOUT_SECONDS) * 1000)),
                "Lambda-Runtime-Invoked-Function-Arn": self.lambdas.function_arn,
                "Lambda-Runtime-Trace-Id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}",
                "Content-Type": "application/json",
            }
            return self._respond(start_response, 200, headers, invocation.payload)
        match = self.RUNTIME_RESULT.match(path)
        if method == "POST" and match:
            known = self.lambdas.complete(match["id"], self._body(environ), match["kind"] == "error")
            return self._respond(start_response, 202 if known else 404, {}, b"{}")
        if path == "/__s3dr/lambda-faults":
            return self._lambda_faults(environ, start_response, method)
        if path == "/2018-06-01/runtime/init/error":
            log(f"Lambda init error: {self._body(environ).decode(errors='replace')}")
            return self._respond(start_response, 202, {}, b"{}")
        return self.moto_app(environ, start_response)

    def _lambda_faults(self, environ: dict[str, Any], start_response: Callable, method: str) -> list[bytes]:
        """POST queues Lambda-level faults for the next matching invocations; GET reports them."""
        if method == "POST":
            try:
                request = json.loads(self._body(environ) or b"{}")
                if not isinstance(request, dict):
                    raise ValueError("expected a JSON object")
                self.lambdas.queue_faults(request)
            except ValueError as error:
                return self._respond(start_response, 400, {"Content-Type": "application/json"},
                                     json.dumps({"error": str(error)}).encode())
        body = json.dumps(self.lambdas.fault_report()).encode()
        return self._respond(start_response, 200, {"Content-Type": "application/json"}, body)

    @staticmethod
    def _body(environ: dict[str, Any]) -> bytes:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        return environ["wsgi.input"].read(length) if length else b""

    @staticmethod
    def _respond(start_response: Callable, status: int, headers: dict[str, str], body: bytes) -> list[bytes]:
        reason = {200: "OK", 202: "Accepted", 400: "Bad Request", 404: "Not Found", 503: "Service Unavailable"}[status]
        start_response(f"{status} {reason}", [*headers.items(), ("Content-Length", str(len(body)))])
        return [body]


class LambdaWorkers:
    """N processes of the real binary, each running its lambda_runtime loop; restarted if one
    exits, as Lambda would start a new execution environment."""

    def __init__(self, binary: str, count: int, env: dict[str, str]) -> None:
        self.binary, self.count, self.env = binary, count, env
        self.processes: list[subprocess.Popen] = []
        self.stopping = threading.Event()

    def start(self) -> None:
        for index in range(self.count):
            self.processes.append(self._spawn(index))
        threading.Thread(target=self._supervise, daemon=True).start()

    def _spawn(self, index: int) -> subprocess.Popen:
        env = {**self.env, "AWS_LAMBDA_LOG_STREAM_NAME": f"local/worker-{index}"}
        return subprocess.Popen([self.binary], env=env, stdin=subprocess.DEVNULL,
                                stdout=sys.stderr, stderr=sys.stderr)

    def _supervise(self) -> None:
        while not self.stopping.wait(0.5):
            for index, process in enumerate(self.processes):
                if process.poll() is not None and not self.stopping.is_set():
                    log(f"Lambda worker {index} exited with {process.returncode}; starting a new one")
                    self.processes[index] = self._spawn(index)

    def stop(self) -> None:
        self.stopping.set()
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()


def statemachine_stems(statemachine_dir: str) -> list[str]:
    return [os.path.basename(path)[: -len(".asl.json")]
            for path in sorted(glob.glob(os.path.join(statemachine_dir, "*.asl.json")))]


def workflow_key(stem: str) -> str:
    """protect-bucket -> PROTECT, detach-bucket -> DETACH, sweep -> SWEEP."""
    return stem.split("-")[0].upper()


def substitute(definition: str, substitutions: dict[str, str], path: str) -> str:
    def replace(match: re.Match) -> str:
        name = match[1]
        if name not in substitutions:
            raise SystemExit(f"{path}: no value for placeholder ${{{name}}}")
        return substitutions[name]

    return re.sub(r"\$\{([A-Za-z0-9_]+)\}", replace, definition)


def provision(endpoint: str, home_region: str, dr_region: str, function_arn: str,
              statemachine_dir: str) -> dict[str, str]:
    """Everything a fresh moto needs before a client can start an execution."""
    import boto3
    from botocore.exceptions import ClientError

    request = urllib.request.Request(
        f"{endpoint}/moto-api/config", method="POST",
        data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=10).read()

    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test",
                                    region_name=home_region)
    iam = session.client("iam", endpoint_url=endpoint)
    trust = {
        "s3-dr-replication": "s3.amazonaws.com",
        "s3-dr-states": "states.amazonaws.com",
        "s3-dr-step": "lambda.amazonaws.com",
    }
    for role, service in trust.items():
        document = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}
        try:
            iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(document))
        except ClientError as error:
            if error.response["Error"]["Code"] != "EntityAlreadyExists":
                raise

    try:
        kms = session.client("kms", endpoint_url=endpoint, region_name=dr_region)
        aliases = kms.list_aliases()["Aliases"]
        if not any(alias["AliasName"] == DR_KEY_ALIAS for alias in aliases):
            key = kms.create_key(Description="s3-dr: replicas of SSE-KMS objects (local stack)")
            kms.create_alias(AliasName=DR_KEY_ALIAS, TargetKeyId=key["KeyMetadata"]["KeyId"])
    except Exception as error:  # e.g. a DR region that is not one (tests/invalid_config.rs)
        log(f"no DR key {DR_KEY_ALIAS} in {dr_region!r}: {error}")

    sfn = session.client("stepfunctions", endpoint_url=endpoint)
    machines: dict[str, str] = {}
    for path in sorted(glob.glob(os.path.join(statemachine_dir, "*.asl.json"))):
        stem = os.path.basename(path)[: -len(".asl.json")]
        with open(path, encoding="utf-8") as handle:
            definition = substitute(handle.read(), {"ProtectFunctionArn": function_arn}, path)
        created = sfn.create_state_machine(
            name=f"s3-dr-{stem}", definition=definition,
            roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/s3-dr-states",
        )
        machines[stem] = created["stateMachineArn"]
    return machines


def latency_range(text: str) -> tuple[int, int]:
    """--s3-latency-ms LO,HI, checked while parsing, before anything is started."""
    from fault_proxy import parse_latency
    try:
        return parse_latency(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected LO,HI milliseconds, not {text!r}") from error


def main(argv: list[str] | None = None) -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "4566")),
                        help="port on 127.0.0.1 (0 picks a free one); default $PORT or 4566")
    parser.add_argument("--lambda-bin", help="the s3-dr-lambda binary to run as the step Lambda")
    parser.add_argument("--workers", type=int, default=4, help="concurrent Lambda executions")
    parser.add_argument("--statemachines", default=os.path.join(here, "..", "statemachine"))
    parser.add_argument("--home-region", default=HOME_REGION_DEFAULT)
    parser.add_argument("--no-patches", action="store_true",
                        help="plain moto, no Lambda: only for tests/emulator_defects.rs")
    parser.add_argument("--env-file", help="also write the client environment to this file")
    parser.add_argument("--verbose", action="store_true", help="log every HTTP request")
    parser.add_argument("--exit-on-stdin-eof", action="store_true",
                        help="stop when standard input closes (tests: the stack dies with them)")
    faults = parser.add_argument_group(
        "S3 faults", "a proxy (local/fault_proxy.py) between the Lambda and S3; tests' own clients bypass it")
    faults.add_argument("--s3-fault-rate", type=float, default=0.0, metavar="FLOAT",
                        help="share of the Lambda's S3 requests that get SlowDown, InternalError "
                             "after applying, or a dropped connection (default 0)")
    faults.add_argument("--s3-latency-ms", type=latency_range, default=(0, 0), metavar="LO,HI",
                        help="random delay added to each of the Lambda's S3 requests (default 0,0)")
    faults.add_argument("--s3-fault-seed", type=int, default=11, metavar="INT", help="seed of the fault draws (default 11)")
    faults.add_argument("--s3-fault-proxy", action="store_true",
                        help="start the proxy even with no faults, to set them later through its control API")
    parser.add_argument("--s3-backend", choices=("moto", "localstack"), default="moto",
                        help="the S3 every client uses: moto on this port (default), or LocalStack's "
                             "stricter S3 (local/strict_s3.py; `make strict-tools` installs it)")
    parser.add_argument("--strict-python", default=os.path.join(here, "..", ".venv-strict", "bin", "python"),
                        help="the Python with LocalStack, for --s3-backend localstack (default .venv-strict)")
    args = parser.parse_args(argv)

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication, MotoRequestHandler, create_backend_app)
    from werkzeug.serving import make_server

    if not args.verbose:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)

    patched = [] if args.no_patches else __import__("moto_patches").apply()
    function_arn = f"arn:aws:lambda:{args.home_region}:{ACCOUNT_ID}:function:{FUNCTION_NAME}"
    lambdas = LambdaService(function_arn)
    moto_app = DomainDispatcherApplication(create_backend_app)
    server = make_server("127.0.0.1", args.port, FrontApp(moto_app, lambdas), threaded=True,
                         request_handler=MotoRequestHandler)
    port = server.server_port
    endpoint = f"http://127.0.0.1:{port}"
    # moto's ASL interpreter sends Lambda invocations to localhost:$MOTO_PORT: this server.
    os.environ["MOTO_PORT"] = str(port)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    workers: LambdaWorkers | None = None
    stopped = threading.Event()

    def stop(*_: Any) -> None:
        stopped.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    if args.exit_on_stdin_eof:
        threading.Thread(target=lambda: (sys.stdin.read(), stop()), daemon=True).start()

    client_env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": args.home_region,
        "AWS_DEFAULT_REGION": args.home_region,  # boto3 and the AWS CLI read this one
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }
    # Where S3 requests go. `s3_backend_url` is the S3 every client uses (moto on this port
    # unless --s3-backend names another); `lambda_s3_url` is where the Lambda's S3 clients send
    # them (the backend, or a fault-injecting proxy in front of it). Both reach the SDKs through
    # the service-specific AWS_ENDPOINT_URL_S3, which wins over AWS_ENDPOINT_URL for S3 only.
    s3_backend_url = endpoint
    localstack = None
    if args.s3_backend == "localstack":
        # moto keeps Step Functions, IAM, KMS and STS; only S3 moves (its buckets start empty).
        import strict_s3
        localstack, s3_backend_url = strict_s3.start(args.strict_python,
                                                     os.path.join(here, "..", "target", "strict-s3"))
        client_env["S3DR_S3_BACKEND"] = "localstack"
        log(f"S3 is LocalStack's, {s3_backend_url} (log {localstack.strict_s3_log})")
    lambda_s3_url = s3_backend_url
    fault_proxy = None
    if args.s3_fault_proxy or args.s3_fault_rate > 0 or args.s3_latency_ms != (0, 0):
        from fault_proxy import start as start_fault_proxy
        fault_proxy, lambda_s3_url = start_fault_proxy(s3_backend_url, args.s3_fault_rate, args.s3_latency_ms,
                                                       args.s3_fault_seed)
        client_env["S3DR_FAULT_PROXY_URL"] = lambda_s3_url
        log(f"S3 fault proxy {lambda_s3_url} -> {s3_backend_url}: rate {args.s3_fault_rate}, "
            f"latency {args.s3_latency_ms} ms, seed {args.s3_fault_seed}; control API {lambda_s3_url}/__s3dr/faults")
    try:
        if not args.no_patches:
            if not args.lambda_bin or not os.access(args.lambda_bin, os.X_OK):
                raise SystemExit(f"--lambda-bin {args.lambda_bin!r} is not an executable "
                                 "(build it with `cargo build --bin s3-dr-lambda`)")
            # The Lambda starts workflows itself (sweep, detach on untag); the ARNs are known
            # before the state machines exist, as in the CDK stack (names are fixed).
            machine_arns = {
                f"S3DR_{workflow_key(stem)}_STATE_MACHINE_ARN":
                    f"arn:aws:states:{args.home_region}:{ACCOUNT_ID}:stateMachine:s3-dr-{stem}"
                for stem in statemachine_stems(args.statemachines)
            }
            client_env.update(machine_arns)
            lambda_env = {
                **{k: v for k, v in os.environ.items() if k not in ("MOTO_PORT",)},
                **{k: v for k, v in LOCAL_LAMBDA_DEFAULTS.items() if k not in os.environ},
                **client_env,
                "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
                "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME,
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{FUNCTION_NAME}",
            }
            # A workflow ARN set in this process's environment (even empty: none) is the
            # Lambda's, as a deployment chooses (tests/sweep.rs runs without the verify workflow).
            lambda_env.update({key: os.environ[key] for key in machine_arns if key in os.environ})
            if s3_backend_url != endpoint:
                client_env["AWS_ENDPOINT_URL_S3"] = s3_backend_url
            if lambda_s3_url != endpoint:
                lambda_env["AWS_ENDPOINT_URL_S3"] = lambda_s3_url
            workers = LambdaWorkers(os.path.abspath(args.lambda_bin), args.workers, lambda_env)
            workers.start()
            machines = provision(endpoint, args.home_region, lambda_env["S3DR_DR_REGION"], function_arn,
                                 args.statemachines)
            if "protect-bucket" in machines:
                client_env["S3DR_STATE_MACHINE_ARN"] = machines["protect-bucket"]
            for stem, arn in machines.items():
                key = f"S3DR_{workflow_key(stem)}_STATE_MACHINE_ARN"
                if client_env.get(key) != arn:
                    raise SystemExit(f"state machine {stem}: created as {arn}, announced as {client_env.get(key)}")
            # The CLI's `plan` and `status` read the same settings as the Lambda.
            for key in ("S3DR_DR_REGION", "S3DR_REPLICATION_ROLE_ARN", "S3DR_BACKFILL", "S3DR_DR_KMS_KEY"):
                if key in lambda_env:
                    client_env[key] = lambda_env[key]
        lines = [f"export {key}={value}" for key, value in client_env.items()]
        if args.env_file:
            with open(args.env_file, "w", encoding="utf-8") as handle:
                handle.write("\n".join(lines) + "\n")
        print(f"# s3-dr local stack on {endpoint}: moto 5.2.5"
              + (f" (patched: {', '.join(patched)})" if patched else " (unpatched)")
              + (f", {args.workers} Lambda workers of {args.lambda_bin}" if workers else "")
              + (f", S3 on LocalStack 4.14.0 at {s3_backend_url}" if localstack else "")
              + ". Client environment:", flush=True)
        print("\n".join(lines), flush=True)
        print("# ready (Ctrl-C stops the stack)", flush=True)
        while not stopped.wait(0.5):
            pass
    finally:
        log("stopping")
        lambdas.stopping.set()
        if workers:
            workers.stop()
        if fault_proxy:
            fault_proxy.shutdown()
            fault_proxy.backend.close()
        if localstack:
            strict_s3.stop(localstack)
        server.shutdown()
        if args.env_file and os.path.exists(args.env_file):
            os.remove(args.env_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
