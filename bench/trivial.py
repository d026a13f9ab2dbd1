#!/usr/bin/env python3
"""The trivial cell on several builds at once, for a fair comparison on a noisy host.

Starts one service per build given (name=path/to/quarkus-run.jar), warms each up (20000 calls by
default: the JIT's C2 compiler was still busy with the request path after 7000), then runs blocks
of 100 calls on each in turn, so that the host's noise falls on all of them alike, and prints
each build's p50 and p99.
Usage: python3 bench/trivial.py [--blocks 30] [--warmup 20000] before=/tmp/old/quarkus-run.jar after=target/quarkus-app/quarkus-run.jar
"""
import argparse
import statistics
import time

from bench import Client, percentile, start_service, stop_service


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--blocks", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=20000)
    parser.add_argument("builds", nargs="+", help="name=path/to/quarkus-run.jar")
    args = parser.parse_args()
    services = []
    try:
        for build in args.builds:
            name, jar = build.split("=", 1)
            service, port, state, _ = start_service({}, jar)
            services.append((name, service, state, Client(port)))
        for _ in range(args.warmup):  # the JIT, the connection and the kernel warm up
            for _, _, _, client in services:
                client.execute("print('hi')")
        samples = {name: [] for name, _, _, _ in services}
        for _ in range(args.blocks):
            for name, _, _, client in services:
                for _ in range(100):
                    start = time.perf_counter()
                    client.execute("print('hi')")
                    samples[name].append((time.perf_counter() - start) * 1000)
        for name, values in samples.items():
            print("%-12s trivial cell p50 %6.2f ms  p99 %6.2f ms  (n=%d)"
                  % (name, statistics.median(values), percentile(values, 99), len(values)))
    finally:
        for _, service, state, _ in services:
            stop_service(service, state)


if __name__ == "__main__":
    main()
