#!/usr/bin/env python3
"""What this machine and bench.py's clients can do at best, for the transfer figures.

Runs bench.py's transfers against a minimal HTTP/1.1 server in this process that does nothing
but the I/O: an upload is read in 1 MiB pieces into a file, a download is one socket.sendfile.
No isolation, no checks, no accounting. Its figures are the floor a real service is judged
against on the same host in the same hour (run it right before or after bench.py).
Usage: python3 bench/floor.py [--transfers 20]
"""
import argparse
import http.client
import os
import shutil
import socket
import statistics
import tempfile
import threading
import time
import uuid

from bench import curl  # the same client as bench.py's 100 MiB transfers


def serve(listener, directory):
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=handle, args=(conn, directory), daemon=True).start()


def handle(conn, directory):
    reader = conn.makefile("rb", buffering=65536)
    with conn, reader:
        while True:
            line = reader.readline()
            if not line:
                return
            method, target, _ = line.decode().split(" ", 2)
            headers = {}
            while True:
                header = reader.readline()
                if header in (b"\r\n", b""):
                    break
                key, value = header.decode().split(":", 1)
                headers[key.strip().lower()] = value.strip()
            name = os.path.join(directory, os.path.basename(target))
            if method == "POST":
                left = int(headers["content-length"])
                with open(name, "wb") as out:
                    while left:
                        piece = reader.read1(min(left, 1 << 20))
                        out.write(piece)
                        left -= len(piece)
                conn.sendall(b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}")
            elif method == "GET":
                with open(name, "rb") as source:
                    size = os.fstat(source.fileno()).st_size
                    conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % size)
                    conn.sendfile(source)
            else:  # DELETE
                os.remove(name)
                conn.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--transfers", type=int, default=20)
    args = parser.parse_args()
    directory = tempfile.mkdtemp(prefix="sandbox-floor-")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    threading.Thread(target=serve, args=(listener, directory), daemon=True).start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

        def request(method, path, body=None):
            conn.request(method, path, body=body)
            response = conn.getresponse()
            return response.status, response.read()

        # the same loop as bench.py: upload, download, then remove outside the timing
        payload = os.urandom(10 * 1024 * 1024)
        rates = []
        for i in range(args.transfers + 5):
            path = "/bench-%s.bin" % uuid.uuid4()
            start = time.perf_counter()
            status, _ = request("POST", path, payload)
            assert status == 201, status
            status, body = request("GET", path)
            elapsed = time.perf_counter() - start
            assert status == 200 and body == payload
            if i >= 5:
                rates.append(2 * len(payload) / (1024 * 1024) / elapsed)
            request("DELETE", path)
        print("10 MiB upload + download  p50 %6.0f MiB/s (n=%d)" % (statistics.median(rates), len(rates)))

        big = os.path.join(directory, "source-100m.bin")
        with open(big, "wb") as f:
            f.write(os.urandom(100 * 1024 * 1024))
        url = "http://127.0.0.1:%d/%%s" % port
        ups, downs = [], []
        for i in range(args.transfers + 8):
            up = curl(["-X", "POST", "-T", big, "-H", "Expect:", url % "bench-big.bin"], 201)
            down = curl([url % "bench-big.bin"], 200)
            if i >= 8:
                ups.append(100 / 1024 / up)
                downs.append(100 / 1024 / down)
            curl(["-X", "DELETE", url % "bench-big.bin"], 204)
        print("100 MiB upload (curl)     p50 %6.2f GiB/s (n=%d)" % (statistics.median(ups), len(ups)))
        print("100 MiB download (curl)   p50 %6.2f GiB/s (n=%d)" % (statistics.median(downs), len(downs)))
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
