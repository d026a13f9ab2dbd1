"""Kernel driver: one IPython shell behind a newline-delimited JSON channel.

Runs inside the gVisor sandbox as its only process. The service writes requests
to our stdin and reads events from our stdout; nothing else crosses the boundary
but the workspace directory. Not ipykernel over ZeroMQ: ZeroMQ goes through gVisor's
network stack, which makes every cell many times slower than a pipe.

Protocol (one JSON object per line; ids are opaque strings chosen by the service):
  in:  {"op": "execute", "id": ID, "code": "...",
        "limits": {"stream_chars": N, "display_bytes": N, "displays": N,
                   "error_chars": N, "line_bytes": N}}
       an execute may also carry "env" (variables for this execution only) and "context" (the
       id of a context made with context_create: its own namespace and working directory)
       {"op": "env", "id": ID, "env": {"NAME": "value"}}  (answered with done)
       {"op": "context_create", "id": ID, "context": CTX, "cwd": "/dir"}  (answered with done)
       {"op": "context_restart" | "context_delete", "id": ID, "context": CTX}  (answered with done)
       {"op": "ping", "id": ID}                            (answered with done)
  out: {"type": "ready", ...} once, then per execution {"type": "started", "id": ID}
       (after any output left over from earlier), any number of
       {"type": "stream", "name": "stdout"|"stderr", "text": "..."},
       {"type": "display_data", "variants": {mime: data}, "main": bool, "chart": {...}?}
       (main: the cell's value, not a display() call; chart: what a matplotlib figure shows,
       as data: type, title, axis labels and elements),
       {"type": "error", "ename", "evalue", "traceback": [...]},
       {"type": "truncated", "what": "stream"|"display"} once a limit cuts output,
       and finally {"type": "done", "id": ID}.

Limits are per execution; output between executions (background threads) counts
against the last one, or against the next if it is still in the pipes when that one
starts. No line is longer than line_bytes. The service enforces the same limits again
and treats more than they allow as a broken protocol (it cannot trust code that shares
this process); these keep a runaway cell from pushing gigabytes through the pipe, and a
well-behaved kernel inside the service's bounds.

The protocol file descriptors are private duplicates: fd 0 becomes /dev/null and
fds 1 and 2 become pipes that a reader thread turns into stream events, so output
of subprocesses and C code (os.system('echo hi')) is captured like print().
"""

from __future__ import annotations

import builtins
import json
import os
import select
import signal
import sys
import threading
import time
import io
from typing import Any, Dict, List, Optional, Tuple

READ_CHUNK = 65536
# Stream text is sent in messages of at most this many characters, so no single
# protocol line grows with what a cell prints.
MESSAGE_CHARS = 65536
NO_LIMIT = 1 << 62
# An error's message and each traceback line are cut here: raise ValueError('x' * 10**8)
# must not become one enormous protocol line.
ERROR_CHARS = 65536
ERROR_LINES = 1000
# The driver's own writes (protocol lines, reader wake-ups): user code gets a watched os.write
# (OutputCapture.watch_writers).
raw_write = os.write


def clean_text(text: str) -> str:
    """Lone surrogates (print('\\udcff'), undecodable file names) become U+FFFD: JSON stays valid UTF-8."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        import re

        return re.sub("[\ud800-\udfff]", "\ufffd", text)


class Channel:
    """Writes protocol lines; shared by the main thread and the output reader."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._lock = threading.Lock()

    def disable(self) -> None:
        """In a forked child: never write (the lock may be held by a thread that did not survive)."""
        fd, self._fd = self._fd, -1
        try:
            os.close(fd)
        except OSError:
            pass

    def send(self, *messages: Dict[str, Any]) -> None:
        """Writes the messages with one write (every syscall costs inside gVisor)."""
        if self._fd < 0 or not messages:
            return
        data = "".join(json.dumps(m, ensure_ascii=False, default=str) + "\n" for m in messages)
        # A lone surrogate anywhere else (an error message, a display bundle) becomes a \\uXXXX
        # escape: still a JSON string, never invalid UTF-8 on the wire.
        data = data.encode("utf-8", "backslashreplace")
        with self._lock:
            view = memoryview(data)
            while view:
                written = raw_write(self._fd, view)
                view = view[written:]


class OutputCapture:
    """Collects the cell's output and sends it as stream events, in order.

    Two sources: Python-level writes to sys.stdout/sys.stderr are buffered in
    process (no syscall per print), and file-descriptor writes (subprocesses, C
    code) land in pipes on fds 1 and 2. Every drain reads the pipes without
    blocking and sends everything under one lock, so output keeps its order.
    Draining instead of handing off to a thread matters inside gVisor: a thread
    wake-up is dear on the ptrace platform, dearer than a whole trivial cell.
    A reader thread wakes for pipe data (so a subprocess never blocks on a full
    pipe while the cell waits for it) and sends text that a quiet cell left
    buffered once it is READER_DELAY_SECONDS old; busy writers flush themselves by
    size and age. While the kernel is busy the reader ticks, so buffering text
    never costs a wake-up; once nothing was printed for PARK_AFTER_SECONDS it
    sleeps until pipe data or the next buffered text wakes it. A tick in every
    idle kernel costs the host CPU: 150 idle sandboxes on ptrace kept ~40% of a
    core busy, a third of that without the tick.

    A line's first write drains the pipes only when something may have written to them
    since the last drain: a child process of the kernel may be alive, os.write() and the like
    wrote to fd 1 or 2, or DRAIN_AGE_SECONDS passed. That last one is all that orders writes
    the watch does not see: native code's write(2), file objects opened on fd 1 or 2 (or on
    /dev/stdout), duplicated descriptors, faulthandler. A poll() per line made a loop of
    print() calls many times slower inside gVisor than the same output without newlines.
    """

    DRAIN_AGE_SECONDS = 0.002

    FLUSH_BYTES = 65536
    FLUSH_AGE_SECONDS = 0.05
    READER_DELAY_SECONDS = 0.5
    PARK_AFTER_SECONDS = 2.0

    def __init__(self, channel: Channel) -> None:
        import codecs

        self._channel = channel
        self.lock = threading.RLock()
        self._segments: List[List[str]] = []  # [name, text], same names merged
        self._pending: List[Dict[str, Any]] = []  # messages that go out before the segments
        self._buffered = 0
        self._buffered_since = 0.0  # when the oldest buffered text came; the last output's time once sent
        self._line_start = True
        self._stream_left = NO_LIMIT
        self._stream_cut = False
        self._drained_at = 0.0  # when the pipes were last drained, or the cell began
        self._spawned = False  # a child process was started and may be alive: it may write at any time
        self._written = False  # fd 1 or 2 was written to directly since the last drain
        self._pipes: Dict[int, str] = {}
        self._decoders: Dict[int, Any] = {}
        for name, target in (("stdout", 1), ("stderr", 2)):
            read_end, write_end = os.pipe()
            os.set_blocking(read_end, False)
            os.dup2(write_end, target)
            os.close(write_end)
            self._pipes[read_end] = name
            self._decoders[read_end] = codecs.getincrementaldecoder("utf-8")("replace")
        # One poll() tells whether either pipe has data: a drain of empty pipes is one syscall.
        self._probe = select.poll()
        for fd in self._pipes:
            self._probe.register(fd, select.POLLIN)
        # The reader sleeps without a deadline while nothing is buffered ("parked"); the first
        # text buffered after that wakes it through this pipe so it can keep the deadline.
        self._reader_parked = False
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        threading.Thread(target=self._run, name="output-reader", daemon=True).start()

    def begin(self, stream_chars: int, started: Dict[str, Any]) -> None:
        """A new execution: a fresh output budget, and its start message queued behind whatever
        background threads printed since the last cell (the service attributes to this execution
        only what follows it). The message goes out with the cell's first output or its end: a
        write of its own would cost every cell a syscall, which is dear inside gVisor.

        The pipes are not drained here: the reader thread sends what lands in them between cells
        as soon as it wakes, and the cell's end drains them anyway. A drain here would only
        decide, for output written in the instant before this request, which side of a race it
        falls on, at the price of a poll() in every cell."""
        with self.lock:
            self._pending = self._take_messages() + [started]
            self._drained_at = time.monotonic()
            if self._spawned and not self._children_alive():
                self._spawned = False
            self._stream_left = stream_chars
            self._stream_cut = False
            # Whatever the last cell left unterminated, this cell's first write starts a line:
            # without this, its output could overtake an earlier subprocess write.
            self._line_start = True

    def write(self, name: str, text: str) -> None:
        if not text:
            return
        with self.lock:
            if self._stream_cut:
                return  # the reader thread keeps draining the pipes, so writers never block
            if self._line_start and (self._spawned or self._written or
                                     time.monotonic() - self._drained_at >= self.DRAIN_AGE_SECONDS):
                # Ordering against subprocess output is kept per line, not per write() call:
                # print('hi') writes 'hi' and '\n', and each drain is a syscall.
                self._drain_pipes()
            self._append(name, text)
            self._line_start = text.endswith("\n")
            if self._buffered >= self.FLUSH_BYTES or time.monotonic() - self._buffered_since >= self.FLUSH_AGE_SECONDS:
                self._send()

    def flush(self, then: Tuple[Dict[str, Any], ...] = ()) -> None:
        """Sends all output so far, pipes included, then the given messages, in one write."""
        with self.lock:
            self._drain_pipes()
            self._send(then)

    def flush_text(self) -> None:
        """sys.stdout.flush(): sends buffered Python-level text; pipes are drained at sync points."""
        if self._segments or self._pending:
            with self.lock:
                self._send()

    def _append(self, name: str, text: str) -> None:
        if len(text) > self._stream_left:
            # Past the budget: keep what fits, tell the service once, drop the rest here.
            if not self._stream_cut:
                self._stream_cut = True
                self._add(name, text[: self._stream_left])
                self._stream_left = 0
                self._send(({"type": "truncated", "what": "stream"},))
            return
        self._stream_left -= len(text)
        self._add(name, text)

    def _add(self, name: str, text: str) -> None:
        if not text:
            return
        if not self._segments:
            self._buffered_since = time.monotonic()
            if self._reader_parked:
                self._reader_parked = False
                try:
                    raw_write(self._wake_write, b"!")
                except BlockingIOError:  # the pipe is full of wake-ups already
                    pass
        if self._segments and self._segments[-1][0] == name:
            self._segments[-1][1] += text
        else:
            self._segments.append([name, text])
        self._buffered += len(text)

    def _send(self, then: Tuple[Dict[str, Any], ...] = ()) -> None:
        pending, self._pending = self._pending, []
        self._channel.send(*pending, *self._take_messages(), *then)

    def _take_messages(self) -> List[Dict[str, Any]]:
        segments, self._segments, self._buffered = self._segments, [], 0
        return [
            {"type": "stream", "name": name, "text": clean_text(text[i : i + MESSAGE_CHARS])}
            for name, text in segments
            for i in range(0, len(text), MESSAGE_CHARS)
        ]

    def _drain_pipes(self) -> None:
        self._drained_at = time.monotonic()
        self._written = False
        if not self._probe.poll(0):
            return
        for fd, name in self._pipes.items():
            while True:
                try:
                    chunk = os.read(fd, READ_CHUNK)
                except BlockingIOError:
                    break
                if not chunk:
                    break
                self._append(name, self._decoders[fd].decode(chunk))
                if len(chunk) < READ_CHUNK:
                    break

    def watch_writers(self) -> None:
        """Notes, without a syscall, when the cell may have put output in the pipes behind our
        back: the functions that start processes or write to a file descriptor are wrapped
        (before any user code imports them). Writes that bypass them (native code's own
        write(2), file objects on fd 1 or 2, duplicated descriptors) are ordered to within
        DRAIN_AGE_SECONDS."""
        import functools
        import posix
        import _posixsubprocess

        def spawns(function):
            @functools.wraps(function)
            def spawn(*args, **kwargs):
                self._spawned = True
                return function(*args, **kwargs)

            return spawn

        def writes(function):
            @functools.wraps(function)
            def write(*args, **kwargs):
                try:
                    return function(*args, **kwargs)
                finally:
                    # After the write: a large one blocks on the full pipe, the reader thread
                    # drains meanwhile, and what lands after that drain must still be drained.
                    fd = args[0] if args else kwargs.get("out_fd")  # sendfile takes keywords too
                    if fd == 1 or fd == 2:
                        self._written = True

            return write

        # In posix too, where os's functions come from: pickle finds a function by its module and
        # name and refuses one that is not the object found there (pool.map(os.system, ...)).
        for name in ("system", "posix_spawn", "posix_spawnp"):
            wrapped = spawns(getattr(posix, name))
            setattr(posix, name, wrapped)
            setattr(os, name, wrapped)
        for name in ("write", "writev", "sendfile"):
            wrapped = writes(getattr(posix, name))
            setattr(posix, name, wrapped)
            setattr(os, name, wrapped)
        _posixsubprocess.fork_exec = spawns(_posixsubprocess.fork_exec)  # subprocess, multiprocessing
        import subprocess  # which took its own reference to fork_exec when imported

        subprocess._fork_exec = _posixsubprocess.fork_exec
        os.register_at_fork(before=lambda: setattr(self, "_spawned", True))  # os.fork, forkpty, pty

    @staticmethod
    def _children_alive() -> bool:
        """Whether the kernel has a child process (pool workers kept from an earlier cell, say),
        without reaping anything: one waitid() per cell, and only after a process was started."""
        try:
            os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            return True
        except ChildProcessError:
            return False
        except OSError:
            return True

    def _run(self) -> None:
        poller = select.poll()
        for fd in (*self._pipes, self._wake_read):
            poller.register(fd, select.POLLIN)
        while True:
            with self.lock:
                quiet = time.monotonic() - self._buffered_since
                if self._segments:
                    timeout = max(0, int((self.READER_DELAY_SECONDS - quiet) * 1000) + 1)
                elif quiet < self.PARK_AFTER_SECONDS:
                    timeout = int(self.READER_DELAY_SECONDS * 1000)
                else:
                    timeout = None  # no deadline to keep: sleep until pipe data or a wake-up
                    self._reader_parked = True
            ready = {fd for fd, _ in poller.poll(timeout)}
            with self.lock:
                self._reader_parked = False
                if self._wake_read in ready:
                    try:
                        os.read(self._wake_read, 4096)
                    except BlockingIOError:
                        pass
                if ready - {self._wake_read}:
                    self._drain_pipes()
                    self._send()  # subprocess output streams at once
                elif self._segments and time.monotonic() - self._buffered_since >= self.READER_DELAY_SECONDS:
                    self._send()


class StreamWriter(io.TextIOBase):
    """sys.stdout / sys.stderr: text goes to the capture, fileno() is the real fd."""

    def __init__(self, capture: OutputCapture, name: str, fd: int) -> None:
        super().__init__()
        self._capture = capture
        self._name = name
        self._fd = fd
        self.buffer = _BinaryWriter(self)

    @property
    def encoding(self) -> str:
        return "utf-8"

    @property
    def errors(self) -> str:
        return "replace"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._fd

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError("write() argument must be str, not %s" % type(text).__name__)
        self._capture.write(self._name, text)
        return len(text)

    def flush(self) -> None:
        self._capture.flush_text()


class _BinaryWriter(io.RawIOBase):
    """sys.stdout.buffer: bytes are decoded as UTF-8 (invalid bytes replaced)."""

    def __init__(self, text: StreamWriter) -> None:
        import codecs

        super().__init__()
        self._text = text
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._text.fileno()

    def write(self, data) -> int:
        data = bytes(data)
        self._text.write(self._decoder.decode(data))
        return len(data)

    def flush(self) -> None:
        self._text.flush()


CHART_MIME = "application/vnd.interpreter-sandbox.chart+json"


class Context:
    """A code context: its own global namespace and working directory, in the one kernel."""

    def __init__(self, shell, cwd: str) -> None:
        import types

        self.cwd = cwd
        self.module = types.ModuleType("__main__")
        self.namespace = self.module.__dict__
        self.namespace.update({"__name__": "__main__", "__builtins__": __builtins__, "get_ipython": lambda: shell,
                               "In": [], "Out": {}, "_ih": [], "_oh": {}, "_dh": [cwd]})


CHART_POINTS = 10000  # per element: a chart is data for a model or a UI, not a dump of the array


def _number(value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if number != number or number in (float("inf"), float("-inf")):
        return None  # NaN and infinities are not JSON
    return int(number) if number.is_integer() and abs(number) < 2 ** 53 else number


def chart_of(figure) -> Optional[Dict[str, Any]]:
    """What a matplotlib figure shows, as data: line, scatter, bar and pie charts. A figure of
    several axes is a "superchart" of them. Never raises: a figure it cannot read has no chart,
    and the cell that showed it must not get an error for it."""
    try:
        return _figure_chart(figure)
    except Exception:
        return None


def _figure_chart(figure) -> Optional[Dict[str, Any]]:
    charts = [chart for chart in (_axes_chart(axes) for axes in figure.get_axes()) if chart is not None]
    if not charts:
        return None
    if len(charts) == 1:
        return charts[0]
    title = figure._suptitle.get_text() if getattr(figure, "_suptitle", None) is not None else ""
    return {"type": "superchart", "title": title, "elements": charts}


def _axes_chart(axes) -> Optional[Dict[str, Any]]:
    from matplotlib.collections import PathCollection
    from matplotlib.patches import Rectangle, Wedge

    title = axes.get_title()
    lines = [line for line in axes.get_lines() if not line.get_label().startswith("_child")
             or len(axes.get_lines()) == 1]
    wedges = [p for p in axes.patches if isinstance(p, Wedge)]
    bars = [p for p in axes.patches if isinstance(p, Rectangle)]
    scatters = [c for c in axes.collections if isinstance(c, PathCollection)]
    base = {"title": title, "x_label": axes.get_xlabel(), "y_label": axes.get_ylabel()}
    if wedges:
        labels = [t.get_text() for t in axes.texts]
        elements = []
        for i, wedge in enumerate(wedges):
            elements.append({"label": wedge.get_label() if not wedge.get_label().startswith("_") else
                             (labels[i] if i < len(labels) else str(i)),
                             "angle": _number(wedge.theta2 - wedge.theta1), "radius": _number(wedge.r)})
        return {"type": "pie", "title": title, "elements": elements}
    if bars and not lines:
        labels = [t.get_text() for t in axes.get_xticklabels()]
        ticks = list(axes.get_xticks())
        elements = []
        for bar in bars:
            x = bar.get_x() + bar.get_width() / 2
            label = str(_number(x))
            for tick, text in zip(ticks, labels):
                if abs(tick - x) < 1e-9 and text:
                    label = text
            elements.append({"label": label, "value": _number(bar.get_height()),
                             "group": bar.get_label() if not str(bar.get_label()).startswith("_") else ""})
        return dict(base, type="bar", elements=elements)
    if scatters and not lines:
        elements = []
        for i, collection in enumerate(scatters):
            points = [[_number(x), _number(y)] for x, y in list(collection.get_offsets())[:CHART_POINTS]]
            label = collection.get_label()
            elements.append({"label": label if not label.startswith("_") else str(i), "points": points})
        return dict(base, type="scatter", elements=elements)
    if lines:
        elements = []
        for i, line in enumerate(lines):
            xs, ys = line.get_xdata(), line.get_ydata()
            label = line.get_label()
            elements.append({"label": label if not label.startswith("_") else str(i),
                             "points": [[_number(x), _number(y)] for x, y in list(zip(xs, ys))[:CHART_POINTS]]})
        return dict(base, type="line", elements=elements)
    return None


class Kernel:
    def __init__(self, channel: Channel, capture: OutputCapture) -> None:
        self.channel = channel
        self.capture = capture
        self.executing = False
        self.forked = False
        self.display_bytes_left = NO_LIMIT
        self.displays_left = NO_LIMIT
        self.display_cut = False
        self.error_chars_left = NO_LIMIT
        self.line_bytes = NO_LIMIT
        self.shell = self._make_shell()

    def _make_shell(self):
        from traitlets.config import Config
        from IPython.core.interactiveshell import InteractiveShell
        from IPython.core.displaypub import DisplayPublisher
        from IPython.core.displayhook import DisplayHook
        from IPython.core.error import StdinNotImplementedError

        kernel = self

        class Publisher(DisplayPublisher):
            def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs):
                kernel.publish(data)

            def clear_output(self, wait=False):
                pass

        class Hook(DisplayHook):
            def write_output_prompt(self):
                pass

            def write_format_data(self, format_dict, md_dict=None):
                kernel.publish(format_dict, main=True)

            def finish_displayhook(self):
                pass

        config = Config()
        config.HistoryManager.enabled = False
        config.InteractiveShell.colors = "Neutral"
        config.InteractiveShell.xmode = "Context"
        shell = InteractiveShell.instance(config=config)
        shell.display_pub = Publisher(shell=shell, parent=shell)
        shell.displayhook = Hook(shell=shell, cache_size=shell.cache_size, parent=shell)
        shell.display_trap.hook = shell.displayhook
        shell._showtraceback = self._show_traceback

        def no_input(prompt: str = "", *args: Any, **kwargs: Any) -> str:
            raise StdinNotImplementedError(
                "input() is not available: this sandbox has no interactive stdin; "
                "put the data in the code or upload a file to /mnt/data"
            )

        builtins.input = no_input
        import getpass

        getpass.getpass = no_input
        # exit()/quit() would only set a flag; a code interpreter keeps running.
        shell.ask_exit = lambda: None
        # IPython compiles every cell an extra time to see whether it needs top-level await;
        # a cell without "async"/"await" cannot, and compiling is slow inside gVisor.
        may_be_async = shell.should_run_async

        def should_run_async(raw_cell, *args, **kwargs):
            if "await" not in raw_cell and "async" not in raw_cell:
                return False
            return may_be_async(raw_cell, *args, **kwargs)

        shell.should_run_async = should_run_async
        self._register_chart_formatter(shell)
        return shell

    @staticmethod
    def _register_chart_formatter(shell) -> None:
        """Figures get one more representation, their data as a chart (taken out again in publish)."""
        from IPython.core.formatters import BaseFormatter

        class ChartFormatter(BaseFormatter):
            format_type = CHART_MIME
            print_method = "_repr_chart_"

            def _check_return(self, r, obj):
                return r if isinstance(r, dict) else None

        formatter = ChartFormatter(parent=shell.display_formatter)
        formatter.for_type_by_name("matplotlib.figure", "Figure", chart_of)
        shell.display_formatter.formatters[CHART_MIME] = formatter
        # The inline backend, once pyplot loads, takes Figure away from every formatter and gives
        # it back to the image ones only: ours goes back in after it.
        import IPython.core.pylabtools as pylabtools

        select = pylabtools.select_figure_formats

        def select_figure_formats(*args, **kwargs):
            select(*args, **kwargs)
            formatter.for_type_by_name("matplotlib.figure", "Figure", chart_of)

        pylabtools.select_figure_formats = select_figure_formats

    def send_after_output(self, message: Dict[str, Any]) -> None:
        """Sends message after all output written so far, keeping event order."""
        if self.forked:
            return
        self.capture.flush(then=(message,))

    def publish(self, data: Dict[str, Any], main: bool = False) -> None:
        data = dict(data)
        chart = data.pop(CHART_MIME, None)
        variants = jsonable(data)
        size = sum(len(v) if isinstance(v, str) else len(json.dumps(v, default=str)) for v in variants.values())
        too_long = False
        if size * 6 + 1024 > self.line_bytes:  # escaping could make the line too long: measure it
            line = json.dumps({"type": "display_data", "variants": variants}, ensure_ascii=False, default=str)
            too_long = len(line.encode("utf-8", "backslashreplace")) + 1 > self.line_bytes
        if self.display_cut or too_long or self.displays_left <= 0 or size > self.display_bytes_left:
            if not self.display_cut:  # once; nothing more this execution, however small
                self.display_cut = True
                self.send_after_output({"type": "truncated", "what": "display"})
            return
        self.displays_left -= 1
        self.display_bytes_left -= size
        message = {"type": "display_data", "variants": variants, "main": main}
        if isinstance(chart, dict) and len(json.dumps(chart, default=str)) * 6 + size * 6 + 1024 < self.line_bytes:
            message["chart"] = chart
        self.send_after_output(message)

    def _show_traceback(self, etype, evalue, stb) -> None:
        if self.forked:  # a forked child's errors go to stderr, like its other output
            sys.stderr.write("\n".join(stb) + "\n")
            return
        # Frames of this file are ours, not the user's: the SIGINT handler that raises an
        # interrupt, the watched os functions (watch_writers) an error passes through. The last
        # entry is the error's own line, which may name any path.
        stb = [entry for i, entry in enumerate(stb) if i == len(stb) - 1 or __file__ not in entry]
        # One error's text fits the execution's error budget: the service drops what does not.
        left = max(0, self.error_chars_left)
        ename = clean_text(getattr(etype, "__name__", str(etype)))[:ERROR_CHARS]
        evalue = clean_text(str(evalue)[:ERROR_CHARS])[: max(0, left - len(ename))]
        left -= len(ename) + len(evalue)
        traceback = []
        for line in stb[:ERROR_LINES]:
            line = clean_text(line[:ERROR_CHARS])[: max(0, left)]
            if not line:
                break
            traceback.append(line)
            left -= len(line)
        self.error_chars_left = left
        self.send_after_output({"type": "error", "ename": ename, "evalue": evalue, "traceback": traceback})

    def execute(self, request_id: Any, code: str, limits: Dict[str, Any], env: Optional[Dict[str, str]] = None,
                context: Optional["Context"] = None) -> None:
        saved_env = {name: os.environ.get(name) for name in (env or {})}
        os.environ.update(env or {})
        saved = None
        if context is not None:
            saved = (self.shell.user_module, self.shell.user_ns, os.getcwd())
            self.shell.user_module, self.shell.user_ns = context.module, context.namespace
            try:
                os.chdir(context.cwd)
            except OSError:
                pass
        try:
            self._execute(request_id, code, limits)
        finally:
            if saved is not None:
                try:
                    context.cwd = os.getcwd()
                except OSError:
                    pass
                self.shell.user_module, self.shell.user_ns = saved[0], saved[1]
                try:
                    os.chdir(saved[2])
                except OSError:
                    pass
            for name, value in saved_env.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def _execute(self, request_id: Any, code: str, limits: Dict[str, Any]) -> None:
        self.capture.begin(int(limits.get("stream_chars", NO_LIMIT)), {"type": "started", "id": request_id})
        self.display_bytes_left = int(limits.get("display_bytes", NO_LIMIT))
        self.displays_left = int(limits.get("displays", NO_LIMIT))
        self.display_cut = False
        self.error_chars_left = int(limits.get("error_chars", NO_LIMIT))
        self.line_bytes = int(limits.get("line_bytes", NO_LIMIT))
        self.executing = True
        try:
            self.shell.run_cell(code, store_history=True)
        except KeyboardInterrupt:  # landed outside user code
            pass
        finally:
            self.executing = False
        if self.forked:
            # A forked child that ran to the end of the cell must not become a second kernel.
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except Exception:
                    pass
            os._exit(0)
        self.send_after_output({"type": "done", "id": request_id})

    def after_fork_in_child(self, protocol_in) -> None:
        """os.fork()/multiprocessing children are not the kernel: they never speak the protocol
        or read requests; their output goes straight to the parent's pipes on fds 1 and 2."""
        self.forked = True
        self.channel.disable()
        try:
            os.close(protocol_in.fileno())
        except OSError:
            pass
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8", errors="replace",
                                      line_buffering=True)
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8",
                                      errors="backslashreplace", line_buffering=True)


def jsonable(data: Dict[str, Any]) -> Dict[str, Any]:
    """A MIME bundle as JSON: bytes become base64, and base64 images lose their line breaks."""
    import base64

    out = {}
    for mime, value in data.items():
        if isinstance(value, bytes):
            value = base64.b64encode(value).decode("ascii")
        elif isinstance(value, str) and mime.startswith("image/") and mime != "image/svg+xml":
            value = value.replace("\n", "")
        out[mime] = value
    return out


class AfterImport:
    """A sys.meta_path finder that patches a module right after it is first imported.

    The driver must not import matplotlib itself (it would slow every kernel start), but it
    wants to adjust matplotlib when user code (or the warm pool's preload) imports it.
    """

    def __init__(self, patches: Dict[str, Any]) -> None:
        self._patches = dict(patches)

    def find_spec(self, fullname, path, target=None):
        patch = self._patches.pop(fullname, None)
        if patch is None:
            return None
        import importlib.util

        spec = importlib.util.find_spec(fullname)  # the other finders; this one has no patch left
        loader = getattr(spec, "loader", None)
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        exec_module = loader.exec_module

        def exec_and_patch(module):
            exec_module(module)
            try:
                patch(module)
            except Exception:  # a speed-up only: matplotlib works without it
                pass

        loader.exec_module = exec_and_patch  # this loader instance serves this one module file
        return spec


def fonts_from_memory(font_manager) -> None:
    """matplotlib's FreeType fonts read glyphs from the font file by seek() + read() through
    Python, hundreds of times per plot. Inside gVisor every such syscall is a trap into the
    sentry, which made text layout a large part of each plt.show() (docs/benchmarks.md).
    Fonts are read once into memory instead; `fname` stays the path (the PDF and PS
    backends embed fonts by it). Applied only to the _get_font this was written against
    (matplotlib 3.6 to 3.9); any other version is left as it is.
    """
    import functools
    import inspect
    from matplotlib import ft2font

    original = font_manager._get_font
    if list(inspect.signature(original).parameters) != ["font_filepaths", "hinting_factor", "_kerning_factor",
                                                        "thread_id"]:
        return

    @functools.lru_cache(16)
    def font_bytes(path) -> bytes:
        with open(path, "rb") as file:
            return file.read()

    class MemoryFont(ft2font.FT2Font):
        def __init__(self, path, *args, **kwargs):
            super().__init__(io.BytesIO(font_bytes(path)), *args, **kwargs)
            self._path = path

        @property
        def fname(self):
            return self._path

    @functools.lru_cache(64)
    def _get_font(font_filepaths, hinting_factor, *, _kerning_factor, thread_id):
        first, *rest = font_filepaths
        fallbacks = [MemoryFont(path, hinting_factor, _kerning_factor=_kerning_factor) for path in rest]
        return MemoryFont(first, hinting_factor, _fallback_list=fallbacks, _kerning_factor=_kerning_factor)

    font_manager._get_font = _get_font
    # FT2Font objects must not cross a fork(), as matplotlib's own cache says.
    os.register_at_fork(after_in_child=_get_font.cache_clear)


def main() -> None:
    protocol_in = os.fdopen(os.dup(0), "rb", buffering=READ_CHUNK)
    channel = Channel(os.dup(1))
    # The original stderr is the service's log of this sandbox: crashes of the driver go there.
    diagnostics = os.fdopen(os.dup(2), "w", buffering=1)
    import faulthandler

    faulthandler.enable(file=diagnostics)
    try:
        serve(protocol_in, channel)
    except BaseException:
        import traceback

        traceback.print_exc(file=diagnostics)
        raise


def serve(protocol_in, channel: Channel) -> None:
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    capture = OutputCapture(channel)
    capture.watch_writers()
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
    sys.stdout = StreamWriter(capture, "stdout", 1)
    sys.stderr = StreamWriter(capture, "stderr", 2)
    sys.__stdout__, sys.__stderr__, sys.__stdin__ = sys.stdout, sys.stderr, sys.stdin

    sys.meta_path.insert(0, AfterImport({"matplotlib.font_manager": fonts_from_memory}))
    kernel = Kernel(channel, capture)
    contexts: Dict[str, Context] = {}
    os.register_at_fork(after_in_child=lambda: kernel.after_fork_in_child(protocol_in))

    def on_sigint(signum, frame):
        # SIGINT interrupts user code only; between cells it is a no-op.
        if kernel.executing:
            raise KeyboardInterrupt

    import gc

    import IPython

    # Startup objects (IPython, traitlets, ...) never become garbage: keeping them out of the
    # cyclic collector makes its full passes short, which is what shows in p99 latency.
    gc.collect()
    gc.freeze()
    channel.send({
        "type": "ready",
        "pid": os.getpid(),
        "python": sys.version.split()[0],
        "ipython": IPython.__version__,
    })
    signal.signal(signal.SIGINT, on_sigint)
    while True:
        if signal.getsignal(signal.SIGINT) is not on_sigint:  # user code replaced it
            signal.signal(signal.SIGINT, on_sigint)
        try:
            line = protocol_in.readline()
            if not line:
                return
            request = json.loads(line)
            op = request.get("op")
            if op == "execute":
                env = request.get("env") if isinstance(request.get("env"), dict) else None
                context = contexts.get(request.get("context")) if request.get("context") is not None else None
                if request.get("context") is not None and context is None:
                    channel.send({"type": "started", "id": request.get("id")},
                                 {"type": "error", "ename": "ContextNotFound",
                                  "evalue": "no context %s" % request.get("context"), "traceback": []},
                                 {"type": "done", "id": request.get("id")})
                    continue
                kernel.execute(request.get("id"), str(request.get("code", "")), request.get("limits") or {},
                               {str(k): str(v) for k, v in (env or {}).items()}, context)
            elif op in ("context_create", "context_restart") and isinstance(request.get("context"), str):
                cwd = request.get("cwd") if op == "context_create" else getattr(
                    contexts.get(request["context"]), "cwd", None)
                if cwd is not None:
                    contexts[request["context"]] = Context(kernel.shell, str(cwd))
                channel.send({"type": "done", "id": request.get("id")})
            elif op == "context_delete":
                contexts.pop(request.get("context"), None)
                channel.send({"type": "done", "id": request.get("id")})
            elif request.get("op") == "env" and isinstance(request.get("env"), dict):
                # POST /sandboxes "env": set before any of the sandbox's code runs.
                os.environ.update({str(k): str(v) for k, v in (request.get("env") or {}).items()})
                channel.send({"type": "done", "id": request.get("id")})
            else:
                channel.send({"type": "done", "id": request.get("id")})
        except KeyboardInterrupt:
            continue


if __name__ == "__main__":
    main()
