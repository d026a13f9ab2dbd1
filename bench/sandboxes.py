#!/usr/bin/env python3
"""Benchmark of many sandboxes on one node, over HTTP with real runsc isolation.

Starts the packaged service (own state directory, warm pool of 2, memory budget for the run)
and measures, medians and percentiles printed side by side:
  * create -> first result from the warm pool   (POST /sandboxes + print(1))
  * cold create -> first result                 (limits that bypass the pool: kernel start included)
  * paused sandbox -> resume + first result
  * N concurrent idle sandboxes: memory per idle sandbox (cgroup) and host memory used,
    then a trivial cell's p50/p99 on a randomly chosen one per call (each call wakes an idle
    sandbox), and in a row on each of 10 of them (a client using one of the crowd)
  * reaping all N: a trivial cell's p50/p99 on another sandbox while they are torn down
Usage: python3 bench/sandboxes.py [--sandboxes 150]   (build first: ./mvnw -B package -DskipTests)
"""
import argparse
import concurrent.futures
import json
import os
import random
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import Client, percentile, start_service, stop_service  # noqa: E402

SMALL = 128 * 1024 * 1024  # the smallest memory limit allowed; an idle kernel uses ~65 MB


def create(client, body=None):
    status, raw = client.request("POST", "/sandboxes", json.dumps(body or {}), {"Content-Type": "application/json"})
    if status != 201:
        raise RuntimeError("create failed: %s %s" % (status, raw[:4000]))
    return json.loads(raw)


def execute(client, sandbox, code="print(1)"):
    status, raw = client.request("POST", "/sandboxes/%s/execute" % sandbox, json.dumps({"code": code}),
                                 {"Content-Type": "application/json"})
    result = json.loads(raw)
    if status != 200 or result["status"] != "ok" or any(e["type"] == "error" for e in result["events"]):
        raise RuntimeError("execute failed: %s %s" % (status, raw[:4000]))
    return result


def pool_ready(client):
    status, raw = client.request("GET", "/q/health/ready")
    return json.loads(raw)["checks"][0]["data"].get("warm_pool_ready", 0)


def host_used_memory():
    info = {}
    with open("/proc/meminfo") as f:
        for line in f:
            key, value = line.split(":", 1)
            info[key] = int(value.split()[0]) * 1024
    return info["MemTotal"] - info["MemAvailable"]


def host_cpu_busy(seconds):
    """Share of all CPUs busy over the interval, from /proc/stat."""
    def sample():
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
        idle = values[3] + values[4]
        return idle, sum(values)
    idle0, total0 = sample()
    time.sleep(seconds)
    idle1, total1 = sample()
    return 1 - (idle1 - idle0) / (total1 - total0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sandboxes", type=int, default=150)
    parser.add_argument("--warm", type=int, default=20)
    parser.add_argument("--cold", type=int, default=5)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()

    service, port, state, _ = start_service({
        "SANDBOX_SANDBOXES_MAX_COUNT": str(args.sandboxes + 20),
        "SANDBOX_SANDBOXES_MEMORY_BUDGET": "23G",
        "SANDBOX_SANDBOXES_POOL_SIZE": "2",
        "SANDBOX_REAPER_INTERVAL": "1s",
    })
    try:
        client = Client(port)
        deadline = time.time() + 120
        while pool_ready(client) < 2:
            if time.time() > deadline:
                sys.exit("the warm pool did not fill")
            time.sleep(0.2)
        for _ in range(500):  # JIT warm-up on the default sandbox
            client.execute("print(1)")
        print("host CPU busy, service and pool idle  %5.1f %%" % (100 * host_cpu_busy(5)))

        warm = []
        for _ in range(args.warm):
            while pool_ready(client) < 1:
                time.sleep(0.1)
            time.sleep(1.0)  # let a refill that just finished settle
            start = time.perf_counter()
            sandbox = create(client)["id"]
            execute(client, sandbox)
            warm.append((time.perf_counter() - start) * 1000)
            client.request("DELETE", "/sandboxes/" + sandbox)
        print("warm pool: create -> first result   p50 %7.1f ms  max %7.1f ms  (n=%d)"
              % (statistics.median(warm), max(warm), len(warm)))

        cold = []
        for _ in range(args.cold):
            start = time.perf_counter()
            sandbox = create(client, {"limits": {"memory_bytes": 1024 * 1024 * 1023}})["id"]
            execute(client, sandbox)
            cold.append((time.perf_counter() - start) * 1000)
            client.request("DELETE", "/sandboxes/" + sandbox)
        print("cold: create -> first result        p50 %7.0f ms  max %7.0f ms  (n=%d)"
              % (statistics.median(cold), max(cold), len(cold)))

        resumed = []
        for _ in range(args.cold):
            sandbox = create(client, {"idle_timeout_secs": 2})["id"]  # from the pool: data libraries imported
            execute(client, sandbox, "import numpy as np\nanswer = np.int64(41)")
            while True:
                status, raw = client.request("GET", "/sandboxes/" + sandbox)
                if json.loads(raw)["state"] == "paused":
                    break
                time.sleep(0.1)
            while pool_ready(client) < 2:  # the refill after the create competes for the CPUs
                time.sleep(0.1)
            start = time.perf_counter()
            result = execute(client, sandbox, "print(answer + 1)")
            resumed.append((time.perf_counter() - start) * 1000)
            assert result["events"][0]["data"]["text"] == "42\n", result
            client.request("DELETE", "/sandboxes/" + sandbox)
        print("paused -> resume + first result     p50 %7.0f ms  max %7.0f ms  (n=%d)"
              % (statistics.median(resumed), max(resumed), len(resumed)))

        before = host_used_memory()
        crowd = []
        lock = threading.Lock()

        def start_one(_):
            own = Client(port)
            sandbox = create(own, {"limits": {"memory_bytes": SMALL}, "idle_timeout_secs": 3600})["id"]
            execute(own, sandbox, "x = 1")
            with lock:
                crowd.append(sandbox)

        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(max_workers=3) as workers:
            list(workers.map(start_one, range(args.sandboxes)))
        print("%d idle sandboxes started in %.0f s" % (len(crowd), time.perf_counter() - started))
        time.sleep(10)  # let them settle
        status, raw = client.request("GET", "/sandboxes")
        listed = [s for s in json.loads(raw)["sandboxes"] if s["id"] in set(crowd)]
        memories = [s["usage"]["memory_bytes"] for s in listed if s["usage"]["memory_bytes"]]
        print("memory per idle sandbox (cgroup)    p50 %7.1f MB  max %7.1f MB  (n=%d)"
              % (statistics.median(memories) / 1e6, max(memories) / 1e6, len(memories)))
        print("host memory used by the %d         %7.1f GB  (%.1f MB each)"
              % (len(crowd), (host_used_memory() - before) / 1e9, (host_used_memory() - before) / 1e6 / len(crowd)))

        print("host CPU busy while the %d idle      %6.1f %%  (2 cores = 200 %% max shown as 100 %%)"
              % (len(crowd), 100 * host_cpu_busy(10)))
        samples = []
        for _ in range(args.calls):
            sandbox = random.choice(crowd)
            start = time.perf_counter()
            execute(client, sandbox)
            samples.append((time.perf_counter() - start) * 1000)
        print("trivial cell on one of %d          p50 %6.2f ms  p99 %6.2f ms  (n=%d)"
              % (len(crowd), statistics.median(samples), percentile(samples, 99), len(samples)))
        # The other reading of "on any of them": a client that uses one of the crowd, calls in a row.
        in_a_row = []
        for sandbox in random.sample(crowd, 10):
            for _ in range(args.calls // 10):
                start = time.perf_counter()
                execute(client, sandbox)
                in_a_row.append((time.perf_counter() - start) * 1000)
        print("trivial cell, %d in a row on each of 10 of them  p50 %6.2f ms  p99 %6.2f ms  (n=%d)"
              % (args.calls // 10, statistics.median(in_a_row), percentile(in_a_row, 99), len(in_a_row)))

        # Reaping: shorten nothing server-side; delete is the same teardown the reaper runs, so
        # tear all of them down from 3 threads while another client measures a trivial cell.
        quiet = create(client)["id"]
        execute(client, quiet)
        while pool_ready(client) < 2:  # the refill after that create starts a kernel: let it finish
            time.sleep(0.2)
        time.sleep(2)
        baseline = []
        for _ in range(300):
            start = time.perf_counter()
            execute(client, quiet)
            baseline.append((time.perf_counter() - start) * 1000)
        during = []
        done = threading.Event()

        def teardown():
            with concurrent.futures.ThreadPoolExecutor(max_workers=3) as workers:
                list(workers.map(lambda s: Client(port).request("DELETE", "/sandboxes/" + s), crowd))
            done.set()

        reaper = threading.Thread(target=teardown)
        started = time.perf_counter()
        reaper.start()
        while not done.is_set():
            start = time.perf_counter()
            execute(client, quiet)
            during.append((time.perf_counter() - start) * 1000)
        reaper.join()
        print("teardown of %d took %.0f s" % (len(crowd), time.perf_counter() - started))
        print("trivial cell, before teardown       p50 %6.2f ms  p99 %6.2f ms  (n=%d)"
              % (statistics.median(baseline), percentile(baseline, 99), len(baseline)))
        print("trivial cell, during teardown       p50 %6.2f ms  p99 %6.2f ms  max %6.1f ms  (n=%d)"
              % (statistics.median(during), percentile(during, 99), max(during), len(during)))
    except BaseException:
        stop_service(service, state, keep=True)
        raise
    else:
        stop_service(service, state)


if __name__ == "__main__":
    main()
