#!/usr/bin/env python3
"""Benchmark of E2B compatibility: Sandbox.create() -> first runCode result through the official
E2B JS SDK, side by side with POST /sandboxes -> first execute result through the service's own
API, both from the warm pool (each sample waits until a warm sandbox is ready).

Starts the packaged service (real runsc) with the E2B API on, runs compat/e2b/bench.mjs against
it, and prints p50 / p90 of each path.
Usage: python3 bench/e2b.py [--rounds 15] [--jar other/quarkus-run.jar]
       (build first: ./mvnw -B package -DskipTests; install the SDK: bash deploy/install-test-deps.sh)
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import JAR, free_port, percentile  # noqa: E402

KEY = "e2b_0123456789abcdef"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--jar", default=JAR)
    args = parser.parse_args()
    port = free_port()
    state = tempfile.mkdtemp(prefix="sandbox-e2b-bench-", dir="/var/tmp")
    env = dict(os.environ, SANDBOX_STATE_DIR=state, QUARKUS_HTTP_PORT=str(port),
               SANDBOX_SANDBOXES_POOL_SIZE="2", SANDBOX_E2B_ENABLED="true", SANDBOX_E2B_API_KEYS=KEY)
    log = open(os.path.join(state, "service.log"), "w")
    service = subprocess.Popen(["java", "-jar", args.jar], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = "http://127.0.0.1:%d" % port
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(url + "/q/health/ready", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        compat = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "compat", "e2b")
        out = subprocess.run(
            ["node", "bench.mjs"], cwd=compat, check=True, capture_output=True, text=True,
            env=dict(os.environ, SERVICE_URL=url, ROUNDS=str(args.rounds), E2B_API_URL=url + "/e2b",
                     E2B_SANDBOX_URL=url + "/e2b/sandbox", E2B_API_KEY=KEY))
        samples = json.loads(out.stdout.strip().splitlines()[-1])
        print("create -> first result, warm pool, %d samples each (ms):" % args.rounds)
        for name, values in samples.items():
            values = sorted(values)
            print("  %-8s p50 %7.1f   p90 %7.1f   min %7.1f" % (
                name, percentile(values, 50), percentile(values, 90), values[0]))
    finally:
        service.terminate()
        service.wait(60)
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
