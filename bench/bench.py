#!/usr/bin/env python3
"""Benchmark of the packaged service over HTTP, with real runsc isolation.

Starts target/quarkus-app/quarkus-run.jar on a free port with its own state directory,
then measures (medians; the machine is noisy):
  * first execute after service start (service start -> first result, and the call alone)
  * trivial cell  print('hi')  p50 / p99 over N calls on one keep-alive connection
  * plt.show() cell p50
  * 10 MiB upload + download throughput, the first ones and after the JIT warmed up,
    and 100 MiB uploads and downloads alone
    (single stream over loopback, with curl; the download goes to /dev/null)
Usage: python3 bench/bench.py [--calls 2000] [--warmup 20000] [--jar other/quarkus-run.jar]
       (build first: ./mvnw -B package -DskipTests)
"""
import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JAR = os.path.join(ROOT, "target", "quarkus-app", "quarkus-run.jar")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


class Client:
    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def request(self, method, path, body=None, headers=None):
        self.conn.request(method, path, body=body, headers=headers or {})
        response = self.conn.getresponse()
        return response.status, response.read()

    def execute(self, code, timeout=60):
        status, body = self.request("POST", "/execute", json.dumps({"code": code, "timeout_secs": timeout}),
                                    {"Content-Type": "application/json"})
        if status != 200:
            raise RuntimeError("execute failed: %s %s" % (status, body[:300]))
        return json.loads(body)


def curl(args, expected):
    """Runs curl; returns its total time in seconds."""
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}"] + args,
                         check=True, capture_output=True, text=True).stdout.split()
    if int(out[0]) != expected:
        raise RuntimeError("curl %s: %s" % (args, out))
    return float(out[1])


def start_service(extra_env, jar=JAR):
    """Starts the packaged service with its own state directory; returns once it listens."""
    state = tempfile.mkdtemp(prefix="sandbox-bench-")
    port = free_port()
    env = dict(os.environ, SANDBOX_STATE_DIR=state, QUARKUS_HTTP_PORT=str(port), **extra_env)
    launched = time.perf_counter()
    service = subprocess.Popen(["java", "-jar", jar], env=env, stdout=open(os.path.join(state, "service.log"), "w"),
                               stderr=subprocess.STDOUT)
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return service, port, state, launched
        except OSError:
            if service.poll() is not None:
                sys.exit("the service exited; see " + os.path.join(state, "service.log"))
            time.sleep(0.02)


def stop_service(service, state, keep=False):
    service.terminate()
    try:
        service.wait(60)
    except subprocess.TimeoutExpired:
        service.kill()
    if keep or service.returncode not in (0, 143):
        print("service log kept in", state)
    else:
        shutil.rmtree(state, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=20000,
                        help="trivial cells before the measured ones: C2 compiles the request path only after "
                             "5000-15000 calls, and went on compiling past 7000 here")
    parser.add_argument("--plots", type=int, default=30)
    parser.add_argument("--transfers", type=int, default=20)
    parser.add_argument("--transfer-warmup", type=int, default=150,
                        help="10 MiB round trips before the measured ones (the JIT needs about 150)")
    parser.add_argument("--jar", default=JAR, help="another build to measure, for side-by-side runs")
    args = parser.parse_args()
    if not os.path.exists(args.jar):
        sys.exit("build first: ./mvnw -B package -DskipTests")

    service, port, state, launched = start_service({}, args.jar)
    try:
        listening = time.perf_counter()  # start_service returns once the port accepts connections
        client = Client(port)
        result = client.execute("print('hi')")
        first = time.perf_counter()
        assert result["events"][0]["data"]["text"] == "hi\n", result
        print("service start -> listening        %7.0f ms" % ((listening - launched) * 1000))
        print("first execute (call alone)       %7.0f ms" % ((first - listening) * 1000))
        print("service start -> first result    %7.0f ms" % ((first - launched) * 1000))

        for _ in range(args.warmup):  # warm-up: JIT, connection, kernel caches
            client.execute("print('hi')")
        samples = []
        for _ in range(args.calls):
            start = time.perf_counter()
            client.execute("print('hi')")
            samples.append((time.perf_counter() - start) * 1000)
        print("trivial cell print('hi')  p50 %6.2f ms  p99 %6.2f ms  (n=%d)"
              % (statistics.median(samples), percentile(samples, 99), len(samples)))

        # A loop of prints: each line used to cost the kernel a poll() of its output pipes.
        lines = []
        for _ in range(args.plots):
            start = time.perf_counter()
            result = client.execute("for i in range(1000): print(i)")
            lines.append((time.perf_counter() - start) * 1000)
            assert "".join(e["data"]["text"] for e in result["events"]).count("\n") == 1000, result
        print("1000 print() lines cell   p50 %6.1f ms  p99 %6.1f ms  (n=%d)"
              % (statistics.median(lines), percentile(lines, 99), len(lines)))

        client.execute("import matplotlib.pyplot as plt")
        client.execute("plt.plot([1, 2, 3]); plt.show()")
        plots = []
        for i in range(args.plots):
            start = time.perf_counter()
            result = client.execute("plt.plot([1, 3, 2, %d]); plt.show()" % i)
            plots.append((time.perf_counter() - start) * 1000)
            assert any("image/png" in e["data"].get("variants", {}) for e in result["events"]), result
        print("plt.show() cell           p50 %6.1f ms  p99 %6.1f ms  (n=%d)"
              % (statistics.median(plots), percentile(plots, 99), len(plots)))

        payload = os.urandom(10 * 1024 * 1024)
        rates = []
        # The JIT takes the transfer path to full speed only after about 150 of these (1.5 GiB each
        # way): measured in blocks of 20 after start, 300, 740, 790, 800, 830, 890, 800, then about
        # 1000-1300 MiB/s. The first block is printed too: it is what a fresh service does.
        warmup = args.transfer_warmup
        for i in range(warmup + args.transfers):
            path = "/mnt/data/bench-%s.bin" % uuid.uuid4()
            start = time.perf_counter()
            status, _ = client.request("POST", "/files/upload/-" + path, payload,
                                       {"Content-Type": "application/octet-stream"})
            assert status == 201, status
            status, body = client.request("GET", "/files/download/-" + path)
            elapsed = time.perf_counter() - start
            assert status == 200 and body == payload
            rates.append(2 * len(payload) / (1024 * 1024) / elapsed)
            client.execute("import os; os.remove(%r)" % path)
        print("10 MiB up + down, fresh   p50 %6.0f MiB/s (the first %d transfers)"
              % (statistics.median(rates[:args.transfers]), args.transfers))
        print("10 MiB upload + download  p50 %6.0f MiB/s (n=%d, after %d to warm up)"
              % (statistics.median(rates[warmup:]), args.transfers, warmup))

        # 100 MiB each way with curl, a client that does not slow the transfer down (the file it
        # uploads is in the page cache; the download goes to /dev/null).
        big = os.path.join(state, "bench-100m.bin")
        with open(big, "wb") as f:
            f.write(os.urandom(100 * 1024 * 1024))
        ups, downs = [], []
        url = "http://127.0.0.1:%d/files/%%s/-/mnt/data/bench-big.bin" % port
        for i in range(args.transfers + 8):  # the first 8 warm up (the JIT compiles the transfer path)
            up = curl(["-X", "POST", "-T", big, "-H", "Expect:", url % "upload"], 201)
            down = curl([url % "download"], 200)
            if i >= 8:
                ups.append(100 / 1024 / up)
                downs.append(100 / 1024 / down)
            client.execute("import os; os.remove('bench-big.bin')")
        print("100 MiB upload (curl)     p50 %6.2f GiB/s (n=%d)" % (statistics.median(ups), len(ups)))
        print("100 MiB download (curl)   p50 %6.2f GiB/s (n=%d)" % (statistics.median(downs), len(downs)))
    finally:
        stop_service(service, state)

if __name__ == "__main__":
    main()
