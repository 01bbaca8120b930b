"""LocalStack's S3 in host mode: a second, stricter S3 for the local stack.

`local/stack.py --s3-backend localstack` starts it and routes every S3 client (the Lambda's and
the announced client environment) to it with AWS_ENDPOINT_URL_S3, while moto keeps running Step
Functions, IAM, KMS and STS. It runs from the pinned `localstack-core` in .venv-strict (Python
3.13; `make strict-tools`), with no Docker and no network: S3 only, no DNS server, no TLS
certificate download, no analytics, all of its files under one directory of its own.

    process, url = start(".venv-strict/bin/python", "target/strict-s3")
    ...
    stop(process)
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

READY_TIMEOUT_SECONDS = 60

# LocalStack's entry point, behind a watchdog: it exits when its standard input (a pipe that only
# the process that started it holds) closes, so it never outlives that process, even a killed one.
_LAUNCHER = """
import os, signal, sys, threading
def watch():
    while os.read(0, 4096):  # the raw descriptor: a buffered reader's lock would hang exit
        pass
    os.kill(os.getpid(), signal.SIGTERM)
threading.Thread(target=watch, daemon=True).start()
# Its S3 keeps object data under a fixed /tmp/localstack-s3-storage/<bucket>, shared by every
# instance on the machine (and a DeleteBucket in one removes the directory of another): its own.
import localstack.services.s3.provider as s3_provider
s3_provider.DEFAULT_S3_TMP_DIR = os.environ["S3DR_STRICT_S3_STORAGE"]
from localstack.runtime.main import main
try:
    main()
except SystemExit as done:
    # Its shutdown is complete ("Completed, bye!"): skip the seconds the interpreter would
    # spend on the threads it leaves behind.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(done.code if isinstance(done.code, int) else 0 if done.code is None else 1)
"""


def _free_port() -> int:
    # LocalStack's gateway (twisted) listens on every interface whatever GATEWAY_LISTEN's host
    # says, so the port must be free on all of them, not only on 127.0.0.1.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("", 0))
        return probe.getsockname()[1]


def _environment(port: int, root: str) -> dict[str, str]:
    filesystem = os.path.join(root, "fs")
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "SYSTEMROOT")
    return {
        **{key: os.environ[key] for key in keep if key in os.environ},
        "SERVICES": "s3",
        "GATEWAY_LISTEN": f"127.0.0.1:{port}",
        "LOCALSTACK_HOST": f"127.0.0.1:{port}",
        # Host mode even where this machine looks like a container (a /.dockerenv, a cgroup):
        # otherwise LocalStack ignores FILESYSTEM_ROOT, writes to /var/lib/localstack and clears
        # the /tmp/localstack that every other instance shares.
        "OVERRIDE_IN_DOCKER": "0",
        "FILESYSTEM_ROOT": filesystem,
        "S3DR_STRICT_S3_STORAGE": os.path.join(filesystem, "s3-storage"),  # read by _LAUNCHER
        # Offline and quiet: no DNS server (it would bind UDP port 53), no download of its signed
        # TLS certificate (a self-signed one serves the unused TLS side), no analytics events.
        "DNS_ADDRESS": "0",
        "SKIP_SSL_CERT_DOWNLOAD": "1",
        "DISABLE_EVENTS": "1",
        # S3 loaded before it reports ready ("running"), not on the first request.
        "EAGER_SERVICE_LOADING": "1",
        # Stricter where it costs nothing: presigned URLs are checked (credentials test/test).
        # KMS keys live in moto, which LocalStack cannot see: it takes key ids unchecked.
        "S3_SKIP_SIGNATURE_VALIDATION": "0",
        "S3_SKIP_KMS_KEY_VALIDATION": "1",
    }


def _health(url: str) -> str | None:
    try:
        with urllib.request.urlopen(f"{url}/_localstack/health", timeout=2) as response:
            return json.load(response).get("services", {}).get("s3")
    except (OSError, ValueError):
        return None


def _tail(path: str, limit: int = 4000) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()[-limit:]
    except OSError as error:
        return f"(no log: {error})"


def start(python: str, workdir: str) -> tuple[subprocess.Popen, str]:
    """Start LocalStack's S3 on a free 127.0.0.1 port; return the process and its URL once its
    health check reports S3 running. Its files and its log (`localstack.log`) are in a new directory under
    `workdir`; `stop` removes the files and keeps the log."""
    if not (os.path.isfile(python) and os.access(python, os.X_OK)):
        raise SystemExit(f"{python!r} is not an executable: `make strict-tools` installs LocalStack "
                         "(pinned, Python 3.13) in .venv-strict")
    python, workdir = os.path.abspath(python), os.path.abspath(workdir)  # it runs in its own cwd
    os.makedirs(workdir, exist_ok=True)
    root = tempfile.mkdtemp(prefix="localstack-", dir=workdir)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = os.path.join(root, "localstack.log")
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [python, "-c", _LAUNCHER], env=_environment(port, root), cwd=root,
            stdin=subprocess.PIPE, stdout=log_file, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() ends it and its children
        )
    process.strict_s3_root = root  # type: ignore[attr-defined]
    process.strict_s3_log = log_path  # type: ignore[attr-defined]
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while (state := _health(url)) != "running":
        if process.poll() is not None or time.monotonic() > deadline:
            why = (f"exited with {process.returncode}" if process.returncode is not None
                   else f"S3 not available after {READY_TIMEOUT_SECONDS} s (last: {state})")
            stop(process)
            raise SystemExit(f"LocalStack's S3 ({python}) {why}; its log, {log_path}:\n{_tail(log_path)}")
        time.sleep(0.2)
    return process, url


def stop(process: subprocess.Popen) -> None:
    """Stop LocalStack and its process group; remove its files, keep its log."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        os.killpg(process.pid, signal.SIGKILL)  # whatever is left of its group
    except ProcessLookupError:
        pass  # the group is gone
    process.wait()
    if process.stdin and not process.stdin.closed:
        process.stdin.close()
    root = getattr(process, "strict_s3_root", None)
    if root:
        shutil.rmtree(os.path.join(root, "fs"), ignore_errors=True)


if __name__ == "__main__":
    # By hand: `python3 local/strict_s3.py` starts one, prints its URL, stops on Enter.
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(here)
    started, address = start(os.path.join(repo, ".venv-strict", "bin", "python"),
                             os.path.join(repo, "target", "strict-s3"))
    print(address, flush=True)
    try:
        sys.stdin.readline()
    finally:
        stop(started)
