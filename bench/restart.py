#!/usr/bin/env python3
"""Benchmark of restarts: sandboxes saved at a graceful stop and brought back at the next start.

Runs the packaged service (real runsc) on one state directory, three times:
  1. creates N sandboxes (default 20), each with numpy and pandas imported and a variable set,
     then stops the service with SIGTERM: time from the signal to the exit, and the service's own
     figure for saving them all;
  2. starts it again: time to ready (/q/health/ready), then the first call of each sandbox, which
     restores it (variables kept): p50 / max; then registers more empty sandboxes (to M in total,
     default 150) and stops it again;
  3. starts it with M registered sandboxes: time to ready, and that no kernel was started eagerly.
Usage: python3 bench/restart.py [--live 20] [--registered 150] [--jar other/quarkus-run.jar]
       (build first: ./mvnw -B package -DskipTests)
"""
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import JAR, Client, free_port  # noqa: E402

SETTINGS = {
    "SANDBOX_SANDBOXES_POOL_SIZE": "0",
    "SANDBOX_SANDBOXES_MAX_COUNT": "400",
    "SANDBOX_SANDBOXES_MEMORY_BUDGET": "200G",
}


def start(state, jar):
    port = free_port()
    env = dict(os.environ, SANDBOX_STATE_DIR=state, QUARKUS_HTTP_PORT=str(port), **SETTINGS)
    log = open(os.path.join(state, "service-%d.log" % port), "w")
    launched = time.perf_counter()
    service = subprocess.Popen(["java", "-jar", jar], env=env, stdout=log, stderr=subprocess.STDOUT)
    while True:
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/q/health/ready" % port, timeout=1) as r:
                if r.status == 200:
                    return service, port, time.perf_counter() - launched, log.name
        except OSError:
            pass
        if service.poll() is not None:
            sys.exit("the service exited; see " + log.name)
        time.sleep(0.02)


def stop(service, log):
    signalled = time.perf_counter()
    service.send_signal(signal.SIGTERM)
    service.wait(300)
    took = time.perf_counter() - signalled
    saved = re.findall(r"shutdown: (\d+) sandboxes saved.*took (\d+) ms", open(log).read())
    return took, saved[-1] if saved else None


def post(client, path, body):
    status, response = client.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    if status not in (200, 201):
        raise RuntimeError("%s: %s %s" % (path, status, response[:300]))
    return json.loads(response)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--live", type=int, default=20)
    parser.add_argument("--registered", type=int, default=150)
    parser.add_argument("--jar", default=JAR)
    args = parser.parse_args()
    if not os.path.exists(args.jar):
        sys.exit("build first: ./mvnw -B package -DskipTests")
    state = tempfile.mkdtemp(prefix="sandbox-restart-", dir="/var/tmp")
    try:
        service, port, ready, log = start(state, args.jar)
        client = Client(port)
        ids = []
        for i in range(args.live):
            sandbox = post(client, "/sandboxes", {"limits": {"memory_bytes": 512 << 20}})["id"]
            result = post(client, "/sandboxes/%s/execute" % sandbox,
                          {"code": "import numpy as np, pandas as pd\nx = %d" % i})
            assert result["status"] == "ok", result
            ids.append(sandbox)
        took, saved = stop(service, log)
        print("graceful stop with %d live sandboxes (numpy, pandas):  %.1f s from SIGTERM to exit;"
              " the service saved %s in %s ms" % (args.live, took, saved[0] if saved else "?",
                                                  saved[1] if saved else "?"))

        service, port, ready, log = start(state, args.jar)
        print("start with %d saved sandboxes: ready in %.2f s" % (args.live, ready))
        client = Client(port)
        restores = []
        for i, sandbox in enumerate(ids):
            began = time.perf_counter()
            result = post(client, "/sandboxes/%s/execute" % sandbox, {"code": "print(x, np.arange(3).sum())"})
            restores.append(time.perf_counter() - began)
            out = "".join(e["data"].get("text", "") for e in result["events"] if e["type"] == "stream")
            assert out == "%d 3\n" % i, result
        print("first call of each (restore, variables kept):  p50 %.0f ms  max %.0f ms  (n=%d)"
              % (statistics.median(restores) * 1000, max(restores) * 1000, len(restores)))
        for _ in range(args.registered - args.live):
            post(client, "/sandboxes", {"limits": {"memory_bytes": 128 << 20}})
        took, saved = stop(service, log)
        print("graceful stop with %d live + %d empty sandboxes: %.1f s from SIGTERM to exit"
              % (args.live, args.registered - args.live, took))

        service, port, ready, log = start(state, args.jar)
        client = Client(port)
        status, body = client.request("GET", "/sandboxes")
        listed = json.loads(body)["sandboxes"]
        running = [s for s in listed if s["kernel"] is not None]
        print("start with %d registered sandboxes: ready in %.2f s; %d listed, %d kernels started"
              % (args.registered, ready, len(listed), len(running)))
        stop(service, log)
    finally:
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
