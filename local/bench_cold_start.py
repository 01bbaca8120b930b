#!/usr/bin/env python3
"""Cold start as Lambda sees it: from exec to the runtime's first
`GET /2018-06-01/runtime/invocation/next` on a loopback Runtime API, and the process's peak RSS
at that moment, for the s3-dr release binary and for a Python handler doing the original
system's init (import boto3, build its S3 and SNS clients: the 2018 Lambdas' services), run
alternately in the same loop, same clock (time.perf_counter_ns) and same machine.

    .venv/bin/python local/bench_cold_start.py --rust target/release/s3-dr-lambda [--runs 15]

Both get credentials from the environment (no network at init). The Python side is a lower
bound of a real Python cold start: it leaves out Lambda's own Python bootstrap (awslambdaric),
so the ratios favour Python, not Rust.
"""
import argparse
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NEXT = "/2018-06-01/runtime/invocation/next"

PYTHON_HANDLER = f"""
import os, urllib.request
import boto3
s3 = boto3.client("s3")
sns = boto3.client("sns")
urllib.request.urlopen("http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "{NEXT}", timeout=30)
"""


class RuntimeApi(BaseHTTPRequestHandler):
    """Records when the runtime first asks for work; holds the request until the run ends."""

    arrived = threading.Event()
    arrived_at = 0
    release = threading.Event()

    def do_GET(self):  # noqa: N802 (http.server's naming)
        if self.path == NEXT and not RuntimeApi.arrived.is_set():
            RuntimeApi.arrived_at = time.perf_counter_ns()
            RuntimeApi.arrived.set()
        RuntimeApi.release.wait(10)
        self.send_response(503)
        self.end_headers()

    def log_message(self, *args):
        pass


def environment(api: str) -> dict:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_LAMBDA_RUNTIME_API": api,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "AKIDBENCHMARK",
        "AWS_SECRET_ACCESS_KEY": "benchmark",
        "AWS_SESSION_TOKEN": "benchmark",
        "AWS_LAMBDA_FUNCTION_NAME": "s3-dr-step",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/s3-dr-step",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        # The settings the CDK stack gives the Lambda (its Config is read at init).
        "S3DR_DR_REGION": "us-east-2",
        "S3DR_REPLICATION_ROLE_ARN": "arn:aws:iam::123456789012:role/s3-dr-replication-us-east-1",
        "S3DR_BACKFILL": "copy",
    }
    return env


def run_once(argv: list[str], api: str) -> tuple[float, float]:
    """(ms from exec to the first `next`, peak RSS in MiB)."""
    RuntimeApi.arrived.clear()
    RuntimeApi.release.clear()
    started = time.perf_counter_ns()
    child = subprocess.Popen(argv, env=environment(api), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not RuntimeApi.arrived.wait(30):
        child.kill()
        raise SystemExit(f"{argv[0]} never asked the Runtime API for an invocation")
    init_ms = (RuntimeApi.arrived_at - started) / 1e6
    # VmHWM: the peak RSS of the process image since exec, read while it waits for work.
    # (rusage's ru_maxrss would also count the fork before exec, i.e. this Python's memory.)
    peak_mib = hwm_mib(child.pid)
    child.send_signal(signal.SIGKILL)
    child.wait()
    RuntimeApi.release.set()
    return init_ms, peak_mib


def hwm_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    raise SystemExit(f"no VmHWM for process {pid}")


def summary(values: list[float]) -> str:
    return f"median {statistics.median(values):.1f} (min {min(values):.1f}, max {max(values):.1f})"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rust", required=True, help="the release build of s3-dr-lambda")
    parser.add_argument("--python", default=sys.executable, help="a Python with boto3")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    api = f"127.0.0.1:{server.server_address[1]}"
    sides = {"rust": [os.path.abspath(args.rust)], "python": [args.python, "-c", PYTHON_HANDLER]}
    results = {name: ([], []) for name in sides}
    run_once(sides["rust"], api)  # warm the page cache for both, untimed
    run_once(sides["python"], api)
    for i in range(args.runs):
        order = ["rust", "python"] if i % 2 == 0 else ["python", "rust"]
        for name in order:
            init_ms, rss = run_once(sides[name], api)
            results[name][0].append(init_ms)
            results[name][1].append(rss)
    server.shutdown()
    (rust_init, rust_rss), (py_init, py_rss) = results["rust"], results["python"]
    print(f"cold start, exec to first {NEXT} ({args.runs} alternating runs each):")
    print(f"  s3-dr (Rust, {os.path.basename(args.rust)}): init ms {summary(rust_init)}, peak RSS MiB {summary(rust_rss)}")
    print(f"  Python boto3 (s3 + sns clients):      init ms {summary(py_init)}, peak RSS MiB {summary(py_rss)}")
    init_ratio = statistics.median(py_init) / statistics.median(rust_init)
    rss_ratio = statistics.median(py_rss) / statistics.median(rust_rss)
    verdict = lambda ok: "meets" if ok else "MISSES"  # noqa: E731
    print(f"  init: Rust takes 1/{init_ratio:.0f} of Python's ({verdict(init_ratio >= 40)} the goal of at most 1/40)")
    print(f"  peak RSS: Rust uses 1/{rss_ratio:.1f} of Python's ({verdict(rss_ratio >= 3)} the goal of at most 1/3)")
    print(f"  reproduce: {sys.executable} local/bench_cold_start.py --rust {args.rust} --runs {args.runs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
