"""Tests of the kernel driver's protocol, run against a real driver process (no sandbox).

Run: python3 -m unittest discover -s src/main/python/sandbox_kernel -p 'test_*.py'
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

DRIVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kernel_driver.py")


class Driver:
    def __init__(self):
        self.workdir = tempfile.mkdtemp()
        env = dict(os.environ, MPLBACKEND="module://matplotlib_inline.backend_inline",
                   MPLCONFIGDIR=os.path.join(self.workdir, ".mpl"), IPYTHONDIR=os.path.join(self.workdir, ".ipy"))
        self.proc = subprocess.Popen([sys.executable, DRIVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, cwd=self.workdir, env=env)
        self.ready = json.loads(self.proc.stdout.readline())
        self.next_id = 0

    def execute(self, code, interrupt_after=None, limits=None):
        self.next_id += 1
        request_id = "req-%d" % self.next_id
        request = {"op": "execute", "id": request_id, "code": code}
        if limits:
            request["limits"] = limits
        self.proc.stdin.write((json.dumps(request) + "\n").encode())
        self.proc.stdin.flush()
        if interrupt_after is not None:
            time.sleep(interrupt_after)
            self.proc.send_signal(signal.SIGINT)
        events = []
        started = False
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError("driver exited: " + self.proc.stderr.read().decode())
            message = json.loads(line)
            if message["type"] == "started":
                self.assert_equal(message["id"], request_id)
                started = True
                events = []  # what came before belongs to no execution
                continue
            if message["type"] == "done":
                self.assert_equal(message["id"], request_id)
                self.assert_equal(started, True)
                return events
            events.append(message)

    @staticmethod
    def assert_equal(a, b):
        if a != b:
            raise AssertionError("%r != %r" % (a, b))

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(10)
        self.proc.stdout.close()
        self.proc.stderr.close()


def text(events, name="stdout"):
    return "".join(e["text"] for e in events if e["type"] == "stream" and e["name"] == name)


class DriverTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.driver = Driver()

    @classmethod
    def tearDownClass(cls):
        cls.driver.close()

    def test_matplotlib_fonts_are_read_from_memory_and_keep_their_path(self):
        events = self.driver.execute(
            "import matplotlib.pyplot as plt\n"
            "from matplotlib import font_manager\n"
            "plt.plot([1, 2]); plt.title('t\u00e9st'); plt.show()\n"
            "font = font_manager.get_font(font_manager.findfont('DejaVu Sans'))\n"
            "print(type(font).__name__, type(font).__mro__[1].__name__, font.fname.endswith('.ttf'))")
        self.assertIn("image/png", events[0]["variants"])
        self.assertEqual(events[-1]["text"], "MemoryFont FT2Font True\n")
        # Embedding a font by its path (the PDF backend) still works.
        events = self.driver.execute("import io; buf = io.BytesIO(); plt.plot([1]); plt.title('x');"
                                     " plt.savefig(buf, format='pdf'); plt.close(); print(buf.getvalue()[:5])")
        self.assertEqual(events[-1]["text"], "b'%PDF-'\n")

    def test_ready_names_versions(self):
        self.assertEqual("ready", self.driver.ready["type"])
        self.assertIn("ipython", self.driver.ready)

    def test_print_and_fd_output_keep_order(self):
        events = self.driver.execute("import os, sys\nprint('a')\nos.write(1, b'b\\n')\nprint('c')\n"
                                     "os.system('echo d')\nsys.stdout.buffer.write(b'e\\n')")
        self.assertEqual("a\nb\nc\nd\ne\n", text(events))

    @contextlib.contextmanager
    def only_watched_writers_drain(self):
        """Without the drain every 2 ms, so that only the watch on writers keeps output in order."""
        self.driver.execute("import sys\nsys.stdout._capture.DRAIN_AGE_SECONDS = 3600")
        try:
            yield
        finally:
            self.driver.execute("del sys.stdout._capture.DRAIN_AGE_SECONDS")

    def test_each_way_of_starting_a_process_keeps_its_output_in_order(self):
        # Each starts a child (or writes to fd 1 directly); the print right after must come after.
        starts = {
            "subprocess": "subprocess.run(['echo', 'x'])",
            "posix_spawn": "os.waitpid(os.posix_spawn('/bin/echo', ['echo', 'x'], os.environ), 0)",
            "posix_spawnp": "os.waitpid(os.posix_spawnp('echo', ['echo', 'x'], os.environ), 0)",
            "popen": "os.popen('echo x >&2').close()",
            "fork": "pid = os.fork()\nif pid == 0: os.write(1, b'x\\n'); os._exit(0)\nos.waitpid(pid, 0)",
            "sendfile": "open('f.txt', 'w').write('x\\n')\n"
                        "with open('f.txt', 'rb') as f: os.sendfile(1, f.fileno(), 0, 2)",
            "sendfile by keyword": "open('f.txt', 'w').write('x\\n')\n"
                                   "with open('f.txt', 'rb') as f: os.sendfile(out_fd=1, in_fd=f.fileno(), offset=0, count=2)",
            "writev": "os.writev(1, [b'x', b'\\n'])",
            "write": "os.write(1, b'x\\n')",
            "system": "os.system('echo x')",
        }
        for name, start in starts.items():
            with self.subTest(name), self.only_watched_writers_drain():
                # Holding the capture's lock keeps the reader thread from draining the child's
                # output while the cell waits for it: only the print can.
                body = "".join("    " + line + "\n" for line in (start + "\nprint('b')").split("\n"))
                events = self.driver.execute("import os, subprocess, sys\nprint('a')\n"
                                             "with sys.stdout._capture.lock:\n" + body)
                self.assertEqual("a\nx\nb\n", "".join(e["text"] for e in events if e["type"] == "stream"))

    def test_a_child_still_writing_after_the_first_drain_keeps_its_place(self):
        with self.only_watched_writers_drain():
            events = self.driver.execute("import subprocess, sys, time\n"
                                         "p = subprocess.Popen('echo a; sleep 0.3; echo c', shell=True)\n"
                                         "time.sleep(0.1)\n"
                                         "with sys.stdout._capture.lock:\n"
                                         "    print('b')\n    p.wait()\n    print('d')")
        self.assertEqual("a\nb\nc\nd\n", text(events))

    def test_workers_kept_from_an_earlier_cell_keep_their_output_in_order(self):
        with self.only_watched_writers_drain():
            self.driver.execute("import multiprocessing as mp, sys\n"
                                "def work(x):\n    print('w%d' % x)\n    return x\n"
                                "pool = mp.get_context('fork').Pool(1)")
            try:
                events = self.driver.execute("with sys.stdout._capture.lock:\n"
                                             "    pool.map(work, [1])\n    print('after')")
                self.assertEqual("w1\nafter\n", text(events))
            finally:
                self.driver.execute("pool.terminate(); pool.join()")

    def test_a_large_write_is_not_split_by_the_next_line(self):
        # The write blocks on the full pipe while the reader thread drains it: what lands after
        # the reader's last drain must still come before the next line.
        events = self.driver.execute("import os\n"
                                     "for _ in range(200):\n"
                                     "    os.write(1, b'x' * 100000 + b'END\\n')\n    print('after')")
        pieces = text(events).split("after\n")
        self.assertEqual(201, len(pieces))
        self.assertTrue(all(piece.endswith("END\n") for piece in pieces[:-1]), "a line split a large write")

    def test_errors_inside_watched_functions_show_no_driver_frame(self):
        events = self.driver.execute("import os\nos.write(99, b'x')")
        error = [e for e in events if e["type"] == "error"][0]
        self.assertEqual("OSError", error["ename"])
        self.assertFalse(any("kernel_driver" in line for line in error["traceback"]), error)
        self.assertIn("Bad file descriptor", error["traceback"][-1])

    def test_native_writes_keep_their_order_after_a_moment(self):
        # write(2) from native code is not seen; a line printed a moment later still comes after it
        # (the capture's lock keeps the reader thread from draining it meanwhile).
        events = self.driver.execute("import ctypes, sys, time\nlibc = ctypes.CDLL(None)\nprint('a')\n"
                                     "with sys.stdout._capture.lock:\n"
                                     "    libc.write(1, b'b\\n', 2)\n    time.sleep(0.01)\n    print('c')")
        self.assertEqual("a\nb\nc\n", text(events))

    def test_a_loop_of_prints_does_not_poll_the_pipes_for_every_line(self):
        # Inside gVisor every poll() is a trip through the sentry: one per line made such loops
        # many times slower than the same output in one write.
        self.driver.execute("import sys\n"
                            "class Counting:\n"
                            "    def __init__(self, probe): self.probe, self.polls = probe, 0\n"
                            "    def poll(self, *args):\n"
                            "        self.polls += 1\n"
                            "        return self.probe.poll(*args)\n"
                            "capture = sys.stdout._capture\n"
                            "capture._probe = Counting(capture._probe)")
        try:
            events = self.driver.execute("for i in range(1000): print(i)")
            self.assertEqual("".join("%d\n" % i for i in range(1000)), text(events))
            polls = int(text(self.driver.execute("print(capture._probe.polls)")))
            # the end of each cell drains, and one more every 2 ms of printing at most
            self.assertLess(polls, 100, "the pipes were polled %d times for 1000 lines" % polls)
        finally:
            self.driver.execute("capture._probe = capture._probe.probe")

    def test_large_subprocess_output_does_not_deadlock(self):
        events = self.driver.execute("import subprocess\nsubprocess.run(['head', '-c', '3000000', '/dev/zero'])\nprint('end')")
        out = text(events)
        self.assertEqual(3000000 + 4, len(out))
        self.assertTrue(out.endswith("end\n"))

    def test_display_comes_after_earlier_output(self):
        events = self.driver.execute("print('first')\ndisplay('shown')\nprint('last')")
        kinds = [(e["type"], e.get("text") or e.get("variants", {}).get("text/plain")) for e in events]
        self.assertEqual([("stream", "first\n"), ("display_data", "'shown'"), ("stream", "last\n")], kinds)

    def test_error_event(self):
        events = self.driver.execute("raise ValueError('nope')")
        errors = [e for e in events if e["type"] == "error"]
        self.assertEqual("ValueError", errors[0]["ename"])
        self.assertEqual("nope", errors[0]["evalue"])

    def test_input_is_refused(self):
        errors = [e for e in self.driver.execute("input()") if e["type"] == "error"]
        self.assertEqual("StdinNotImplementedError", errors[0]["ename"])

    def test_reading_stdin_does_not_eat_the_protocol(self):
        events = self.driver.execute("import sys\nprint(repr(sys.stdin.read()))")
        self.assertEqual("''\n", text(events))
        self.assertEqual("ok\n", text(self.driver.execute("print('ok')")))

    def test_sigint_interrupts_the_cell_and_keeps_state(self):
        self.driver.execute("kept = 5")
        events = self.driver.execute("import time\ntime.sleep(20)", interrupt_after=1.0)
        self.assertEqual("KeyboardInterrupt", [e for e in events if e["type"] == "error"][0]["ename"])
        self.assertEqual("5\n", text(self.driver.execute("print(kept)")))

    def test_sigint_between_cells_is_harmless(self):
        self.driver.proc.send_signal(signal.SIGINT)
        time.sleep(0.3)
        self.assertEqual("alive\n", text(self.driver.execute("print('alive')")))

    def test_exit_does_not_stop_the_kernel(self):
        self.driver.execute("exit()")
        self.assertEqual("still\n", text(self.driver.execute("print('still')")))

    def test_forked_children_never_become_a_second_kernel(self):
        events = self.driver.execute("import os, sys\n"
                                     "pid = os.fork()\n"
                                     "print('child' if pid == 0 else 'parent', flush=True)\n"
                                     "if pid == 0: raise ValueError('in child')\n"
                                     "os.waitpid(pid, 0) if pid else None")
        out = text(events)
        self.assertIn("parent\n", out)
        self.assertIn("child\n", out)  # the child's output still reaches the parent's pipes
        self.assertEqual([], [e for e in events if e["type"] == "error"], "the child spoke no protocol")
        self.assertEqual("one\n", text(self.driver.execute("print('one')")))

    def test_multiprocessing_works(self):
        events = self.driver.execute("import multiprocessing as mp\n"
                                     "def square(x):\n    return x * x\n"
                                     "with mp.get_context('fork').Pool(2) as pool:\n"
                                     "    print(pool.map(square, range(5)))")
        self.assertEqual("[0, 1, 4, 9, 16]\n", text(events))

    def test_the_watched_os_functions_can_still_be_pickled(self):
        events = self.driver.execute("import multiprocessing as mp, os, pickle\n"
                                     "print(pickle.loads(pickle.dumps(os.write)) is os.write)\n"
                                     "with mp.get_context('fork').Pool(2) as pool:\n"
                                     "    print(pool.map(os.system, ['true', 'exit 3']))")
        self.assertEqual("True\n[0, 768]\n", text(events))

    def test_top_level_await_still_works(self):
        events = self.driver.execute("import asyncio\nawait asyncio.sleep(0)\nprint('awaited')")
        self.assertEqual("awaited\n", text(events))

    def test_invalid_utf8_is_replaced(self):
        events = self.driver.execute("import os\nos.write(1, b'\\xff\\xfeok\\n')")
        self.assertEqual("\ufffd\ufffdok\n", text(events))

    def test_output_of_a_slow_cell_arrives_before_it_ends(self):
        start = time.time()
        self.driver.proc.stdin.write((json.dumps({"op": "execute", "id": "slow", "code":
                                     "import time\nprint('early')\ntime.sleep(2)"}) + "\n").encode())
        self.driver.proc.stdin.flush()
        self.assertEqual({"type": "started", "id": "slow"}, json.loads(self.driver.proc.stdout.readline()))
        first = json.loads(self.driver.proc.stdout.readline())
        self.assertEqual("early\n", first["text"])
        self.assertLess(time.time() - start, 1.5)
        self.assertEqual("done", json.loads(self.driver.proc.stdout.readline())["type"])

    def test_output_a_background_thread_prints_between_cells_is_sent(self):
        self.driver.execute("import threading, time\n"
                            "threading.Thread(target=lambda: (time.sleep(0.3), print('late'))).start()")
        start = time.time()
        late = json.loads(self.driver.proc.stdout.readline())
        self.assertEqual(("stream", "late\n"), (late["type"], late["text"]))
        self.assertLess(time.time() - start, 1.5)

    def test_an_idle_kernel_does_not_wake_up(self):
        self.driver.execute("print('warm')")
        time.sleep(2.7)  # the reader parks 2 s after the last output

        def switches():
            total = 0
            for task in os.listdir("/proc/%d/task" % self.driver.proc.pid):
                with open("/proc/%d/task/%s/status" % (self.driver.proc.pid, task)) as status:
                    total += sum(int(line.split()[1]) for line in status
                                 if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")))
            return total

        before = switches()
        time.sleep(2.5)
        self.assertLessEqual(switches() - before, 1, "an idle driver woke up (a timer tick costs CPU in every sandbox)")


    def test_lone_surrogates_become_replacement_characters(self):
        events = self.driver.execute("print('a\\udcffb')\nraise ValueError('\\ud800')")
        self.assertEqual("a\ufffdb\n", text(events))
        self.assertEqual("ValueError", [e for e in events if e["type"] == "error"][0]["ename"])

    def test_stream_output_is_cut_at_the_limit_and_said_once(self):
        code = "import os\nfor _ in range(50): print('x' * 999)\nos.system('seq 1 100000')"
        events = self.driver.execute(code, limits={"stream_chars": 5000})
        self.assertEqual("x" * 999 + "\n" + "x" * 999 + "\n", text(events)[:2000])
        self.assertEqual(5000, len(text(events)))
        self.assertEqual([{"type": "truncated", "what": "stream"}], [e for e in events if e["type"] == "truncated"])
        # the next execution has a fresh budget
        self.assertEqual("again\n", text(self.driver.execute("print('again')", limits={"stream_chars": 5000})))

    def test_a_subprocess_write_is_not_overtaken_after_an_unterminated_cell(self):
        self.driver.execute("print('no newline', end='')")
        events = self.driver.execute("import os\nos.write(1, b'A\\n')\nprint('B')")
        self.assertEqual("A\nB\n", text(events))

    def test_huge_error_messages_are_cut(self):
        events = self.driver.execute("raise ValueError('v' * 1000000)")
        error = [e for e in events if e["type"] == "error"][0]
        self.assertEqual(65536, len(error["evalue"]))
        self.assertTrue(all(len(line) <= 65536 for line in error["traceback"]))

    def test_env_op_sets_variables_for_code_and_subprocesses(self):
        self.driver.proc.stdin.write((json.dumps({"op": "env", "id": "e77", "env": {"GREETING": "hi"}}) + "\n").encode())
        self.driver.proc.stdin.flush()
        self.assertEqual({"type": "done", "id": "e77"}, json.loads(self.driver.proc.stdout.readline()))
        events = self.driver.execute("import os, subprocess\nprint(os.environ['GREETING'])\n"
                                     "print(subprocess.run(['sh', '-c', 'echo $GREETING'], capture_output=True, text=True).stdout)")
        self.assertEqual("hi\nhi\n\n", text(events))

    def test_an_interrupt_traceback_shows_the_users_code_not_the_driver(self):
        events = self.driver.execute("import time\ntime.sleep(5)", interrupt_after=1.0)
        error = [e for e in events if e["type"] == "error"][0]
        self.assertEqual("KeyboardInterrupt", error["ename"])
        self.assertTrue(any("time.sleep" in line or "sleep" in line for line in error["traceback"]), error)
        self.assertFalse(any("kernel_driver" in line for line in error["traceback"]), error)

    def test_output_left_from_between_cells_comes_before_started(self):
        self.driver.execute("import threading, time\n"
                            "threading.Thread(target=lambda: (time.sleep(0.2), print('between'))).start()")
        time.sleep(0.4)
        self.assertEqual("now\n", text(self.driver.execute("print('now')")), "the late line is not this cell's")

    def test_errors_keep_to_their_budget(self):
        events = self.driver.execute("raise ValueError('v' * 5000)", limits={"error_chars": 1000})
        error = [e for e in events if e["type"] == "error"][0]
        size = len(error["ename"]) + len(error["evalue"]) + sum(len(line) for line in error["traceback"])
        self.assertLessEqual(size, 1000)
        self.assertEqual("ValueError", error["ename"])

    def test_a_display_whose_line_would_be_too_long_is_cut(self):
        code = "from IPython.display import display\ndisplay({'text/plain': '\\x01' * 3000}, raw=True)\nprint('after')"
        events = self.driver.execute(code, limits={"line_bytes": 10000})
        self.assertEqual([], [e for e in events if e["type"] == "display_data"])
        self.assertEqual(1, len([e for e in events if e["type"] == "truncated" and e["what"] == "display"]))
        self.assertEqual("after\n", text(events))

    def test_big_writes_are_split_into_bounded_messages(self):
        events = self.driver.execute("import sys\nsys.stdout.write('y' * 200000)")
        self.assertEqual(200000, len(text(events)))
        self.assertTrue(all(len(e["text"]) <= 65536 for e in events if e["type"] == "stream"))

    def test_displays_past_the_count_limit_are_dropped(self):
        code = "from IPython.display import display\nfor i in range(5): display(i)"
        events = self.driver.execute(code, limits={"displays": 2})
        shown = [e["variants"]["text/plain"] for e in events if e["type"] == "display_data"]
        self.assertEqual(["0", "1"], shown)
        self.assertEqual(1, len([e for e in events if e["type"] == "truncated" and e["what"] == "display"]))


if __name__ == "__main__":
    unittest.main()
