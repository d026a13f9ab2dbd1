#!/usr/bin/env python3
"""Benchmark of fleet mode's forwarding: what a hop through another instance adds to a call.

Starts two instances of the packaged service (real runsc) as one fleet on loopback: A owns the
default sandbox, B forwards the unprefixed API to A. Runs the trivial cell print('hi') on one
keep-alive connection to A and one to B, alternating in blocks, and reports p50 / p99 of each
and the difference of the medians.
Usage: python3 bench/fleet.py [--calls 2000] [--jar other/quarkus-run.jar]
       (build first: ./mvnw -B package -DskipTests)
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import JAR, Client, free_port, percentile  # noqa: E402


def start(port, peers, default, jar):
    state = tempfile.mkdtemp(prefix="sandbox-fleet-", dir="/var/tmp")
    env = dict(os.environ, SANDBOX_STATE_DIR=state, QUARKUS_HTTP_PORT=str(port),
               SANDBOX_SANDBOXES_POOL_SIZE="0", SANDBOX_CLUSTER_INSTANCE=str(port),
               SANDBOX_CLUSTER_PEER_URL="http://127.0.0.1:{instance}",
               SANDBOX_CLUSTER_PEERS=",".join(str(p) for p in peers),
               SANDBOX_CLUSTER_DEFAULT_INSTANCE=str(default))
    log = open(os.path.join(state, "service.log"), "w")
    service = subprocess.Popen(["java", "-jar", jar], env=env, stdout=log, stderr=subprocess.STDOUT)
    while True:
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/q/health/ready" % port, timeout=1) as r:
                if r.status == 200:
                    return service, state
        except OSError:
            pass
        if service.poll() is not None:
            sys.exit("an instance exited; see " + log.name)
        time.sleep(0.05)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--jar", default=JAR)
    args = parser.parse_args()
    ports = [free_port(), free_port()]
    started = [start(port, ports, ports[0], args.jar) for port in ports]
    try:
        direct, forwarded = Client(ports[0]), Client(ports[1])
        for client in (direct, forwarded):
            for _ in range(1500):  # warm-up: the JIT of both instances, connections, the kernel
                client.execute("print('hi')")
        samples = {"direct": [], "forwarded": []}
        for _ in range(args.calls // 100):
            for name, client in (("direct", direct), ("forwarded", forwarded)):
                for _ in range(100):
                    began = time.perf_counter()
                    client.execute("print('hi')")
                    samples[name].append((time.perf_counter() - began) * 1000)
        for name in ("direct", "forwarded"):
            print("trivial cell %-10s p50 %6.2f ms  p99 %6.2f ms  (n=%d)"
                  % (name, statistics.median(samples[name]), percentile(samples[name], 99), len(samples[name])))
        print("forwarding adds %.2f ms at the median"
              % (statistics.median(samples["forwarded"]) - statistics.median(samples["direct"])))
    finally:
        for service, state in started:
            service.terminate()
            service.wait(120)
            shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
