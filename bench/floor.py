#!/usr/bin/env python3
"""What this machine and bench.py's clients can do at best, for the transfer figures.

Runs bench.py's transfers against a minimal HTTP/1.1 server that does nothing but the I/O: an
upload is read in 1 MiB pieces into a file, a download is one socket.sendfile. No isolation, no
checks, no accounting. The server runs in its own process, as the service does: run in the
client's process it measured up to 1.6 times faster here, which is not a floor a real server
can reach. Its figures are the floor a real service is judged against on the same host in the
same hour (run it right before or after bench.py), with as many warm-up transfers as bench.py.
With --jar, the service's transfers are measured too, each in turn with the floor's, so the
host's noise falls on both alike.
Usage: python3 bench/floor.py [--transfers 20] [--transfer-warmup 150] [--jar target/quarkus-app/quarkus-run.jar]
"""
import argparse
import http.client
import multiprocessing
import os
import shutil
import socket
import statistics
import tempfile
import threading
import time
import uuid

from bench import Client, curl, start_service, stop_service  # bench.py's clients and service


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


class Floor:
    """The minimal server, in its own process."""

    name = "floor"

    def __init__(self):
        self.directory = tempfile.mkdtemp(prefix="sandbox-floor-")
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        self.port = listener.getsockname()[1]
        self.server = multiprocessing.Process(target=serve, args=(listener, self.directory), daemon=True)
        self.server.start()
        listener.close()  # the server's process has its own
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)

    def request(self, method, path, body=None):
        self.conn.request(method, path, body=body)
        response = self.conn.getresponse()
        return response.status, response.read()

    def url(self, name):
        return "http://127.0.0.1:%d/%s" % (self.port, name)

    def upload(self, name, body):
        return self.request("POST", "/" + name, body)[0]

    def download(self, name):
        return self.request("GET", "/" + name)

    def remove(self, name):
        self.request("DELETE", "/" + name)

    def close(self):
        self.server.kill()
        shutil.rmtree(self.directory, ignore_errors=True)


class Service:
    """The packaged service, measured the way bench.py does."""

    name = "service"

    def __init__(self, jar):
        self.process, self.port, self.state, _ = start_service({}, jar)
        self.client = Client(self.port)
        self.client.execute("print(1)")

    def url(self, name):
        return "http://127.0.0.1:%d/files/upload/-/mnt/data/%s" % (self.port, name)

    def upload(self, name, body):
        return self.client.request("POST", "/files/upload/-/mnt/data/" + name, body,
                                   {"Content-Type": "application/octet-stream"})[0]

    def download(self, name):
        return self.client.request("GET", "/files/download/-/mnt/data/" + name)

    def remove(self, name):
        self.client.execute("import os; os.remove(%r)" % ("/mnt/data/" + name))

    def close(self):
        stop_service(self.process, self.state)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--transfers", type=int, default=20)
    parser.add_argument("--transfer-warmup", type=int, default=150)
    parser.add_argument("--jar", help="also measure this build of the service, each transfer in turn with the floor's")
    args = parser.parse_args()
    targets = [Floor()]
    try:
        if args.jar:
            targets.append(Service(args.jar))
        # the same loop as bench.py: upload, download, then remove outside the timing
        payload = os.urandom(10 * 1024 * 1024)
        rates = {target.name: [] for target in targets}
        for i in range(args.transfer_warmup + args.transfers):
            for target in targets:
                name = "bench-%s.bin" % uuid.uuid4()
                start = time.perf_counter()
                assert target.upload(name, payload) == 201
                status, body = target.download(name)
                elapsed = time.perf_counter() - start
                assert status == 200 and body == payload
                if i >= args.transfer_warmup:
                    rates[target.name].append(2 * len(payload) / (1024 * 1024) / elapsed)
                target.remove(name)

        big = os.path.join(targets[0].directory, "source-100m.bin")
        with open(big, "wb") as f:
            f.write(os.urandom(100 * 1024 * 1024))
        ups = {target.name: [] for target in targets}
        downs = {target.name: [] for target in targets}
        for i in range(args.transfers + 8):
            for target in targets:
                url = target.url("bench-big.bin")
                up = curl(["-X", "POST", "-T", big, "-H", "Expect:", url], 201)
                down = curl([url.replace("/files/upload/", "/files/download/")], 200)
                if i >= 8:
                    ups[target.name].append(100 / 1024 / up)
                    downs[target.name].append(100 / 1024 / down)
                target.remove("bench-big.bin")
        for target in targets:
            print("%-8s 10 MiB upload + download  p50 %6.0f MiB/s (n=%d)"
                  % (target.name, statistics.median(rates[target.name]), len(rates[target.name])))
            print("%-8s 100 MiB upload (curl)     p50 %6.2f GiB/s (n=%d)"
                  % (target.name, statistics.median(ups[target.name]), len(ups[target.name])))
            print("%-8s 100 MiB download (curl)   p50 %6.2f GiB/s (n=%d)"
                  % (target.name, statistics.median(downs[target.name]), len(downs[target.name])))
    finally:
        for target in targets:
            target.close()


if __name__ == "__main__":
    main()
