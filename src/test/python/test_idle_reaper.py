"""Tests of the pod-per-sandbox example's idle reaper against a fake Kubernetes API and fake pods.

Run by DeploymentManifestsIT with the script taken from the example's ConfigMap:
    python3 src/test/python/test_idle_reaper.py /path/to/reaper.py
"""
import datetime
import importlib.util
import json
import os
import socket
import sys
import threading
import unittest
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.timezone.utc)


def stamp(minutes_ago):
    return (NOW - datetime.timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeCluster:
    def __init__(self):
        self.pods = {}
        self.deleted = []
        self.activity = {}  # pod IP -> last_activity, or None for a pod that fails

    def add(self, name, ip, minutes_idle):
        self.pods[name] = {"metadata": {"name": name, "labels": {"interpreter-sandbox/role": "per-client",
                                                                 "interpreter-sandbox/id": name[len("sandbox-"):]},
                                        "annotations": {}},
                           "status": {"podIP": ip} if ip else {}}
        if ip:
            self.activity[ip] = None if minutes_idle is None else stamp(minutes_idle)


def serve(handler):
    server = ThreadingHTTPServer(("0.0.0.0", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class ReaperTest(unittest.TestCase):
    def setUp(self):
        cluster = self.cluster = FakeCluster()

        class Api(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, body, status=200):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                assert self.headers["Authorization"] == "Bearer token", self.headers
                query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
                assert query["labelSelector"] == ["interpreter-sandbox/role=per-client"], self.path
                self.reply({"items": list(cluster.pods.values())})

            def do_PATCH(self):
                name = self.path.rsplit("/", 1)[1]
                assert self.headers["Content-Type"] == "application/merge-patch+json"
                patch = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                annotations = cluster.pods[name]["metadata"]["annotations"]
                for key, value in patch["metadata"]["annotations"].items():
                    if value is None:
                        annotations.pop(key, None)
                    else:
                        annotations[key] = value
                self.reply(cluster.pods[name])

            def do_DELETE(self):
                kind, name = self.path.rsplit("/", 2)[1:]
                cluster.deleted.append(kind + "/" + name)
                if kind == "pods":
                    cluster.pods.pop(name, None)
                self.reply({})

        class Pods(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                last = cluster.activity.get(self.connection.getsockname()[0])
                if last is None:
                    self.send_response(503)
                    self.end_headers()
                    return
                data = json.dumps({"last_activity": last, "state": "idle"}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.api = serve(Api)
        self.pods = serve(Pods)
        os.environ.update(KUBERNETES_API="http://127.0.0.1:%d" % self.api.server_port, KUBERNETES_TOKEN="token",
                          NAMESPACE="ns", SANDBOX_PORT=str(self.pods.server_port), IDLE_MINUTES="30",
                          UNHEALTHY_MINUTES="10")
        spec = importlib.util.spec_from_file_location("reaper", sys.argv[1])
        self.reaper = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(self.reaper)

    def tearDown(self):
        self.api.shutdown()
        self.pods.shutdown()

    def test_idle_pods_go_with_their_service_and_busy_ones_stay(self):
        self.cluster.add("sandbox-idle", "127.0.0.2", 45)
        self.cluster.add("sandbox-busy", "127.0.0.3", 5)
        self.reaper.run(NOW)
        self.assertEqual(["pods/sandbox-idle", "services/sandbox-idle"], self.cluster.deleted)
        self.assertIn("sandbox-busy", self.cluster.pods)

    def test_a_pod_that_does_not_answer_is_marked_then_deleted_after_the_grace(self):
        self.cluster.add("sandbox-broken", "127.0.0.4", None)
        self.cluster.add("sandbox-pending", None, None)
        self.reaper.run(NOW)
        self.assertEqual([], self.cluster.deleted)
        self.assertEqual(stamp(0), self.cluster.pods["sandbox-broken"]["metadata"]["annotations"][self.reaper.MARK])
        self.reaper.run(NOW + datetime.timedelta(minutes=5))
        self.assertEqual([], self.cluster.deleted, "still within the grace")
        self.reaper.run(NOW + datetime.timedelta(minutes=11))
        self.assertEqual(sorted(["pods/sandbox-broken", "services/sandbox-broken", "pods/sandbox-pending",
                                 "services/sandbox-pending"]), sorted(self.cluster.deleted))

    def test_a_pod_that_answers_again_loses_its_mark(self):
        self.cluster.add("sandbox-flaky", "127.0.0.5", None)
        self.reaper.run(NOW)
        self.cluster.activity["127.0.0.5"] = stamp(1)
        self.reaper.run(NOW + datetime.timedelta(minutes=20))
        self.assertEqual([], self.cluster.deleted)
        self.assertNotIn(self.reaper.MARK, self.cluster.pods["sandbox-flaky"]["metadata"]["annotations"])


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
