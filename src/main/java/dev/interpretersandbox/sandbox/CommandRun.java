package dev.interpretersandbox.sandbox;

import dev.interpretersandbox.kernel.RunningCommand;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jboss.logging.Logger;

/**
 * One command's output on its way to a sink, as an execution's is: stream events as the bytes
 * come (valid UTF-8, a character never split), at most the execution's stream cap in all (the
 * rest is read and dropped, so the command never blocks on a full pipe, and a note says so), a
 * timeout that sends SIGTERM and then SIGKILL after the interrupt grace, and a cancel for a client
 * that went away. The result carries the exit code. With coalesce (the plain JSON answer),
 * consecutive output of one stream becomes one event, as it does for an execution.
 *
 * <p>Thread-safety: one reader thread per stream; events go to the sink one at a time under this
 * object's lock, which is also where back-pressure holds the readers.
 */
public final class CommandRun {

    private static final Logger LOG = Logger.getLogger(CommandRun.class);
    private static final int CHUNK = 32 * 1024;
    private static final AtomicInteger THREADS = new AtomicInteger();

    private final RunningCommand command;
    private final EventSink sink;
    private final Clock clock;
    private final long maxStreamBytes;
    private final Duration grace;
    private final ScheduledExecutorService timers;
    private final long startedNanos = System.nanoTime();
    private long streamed; // under this
    private boolean truncated; // under this
    private final boolean coalesce;
    private String pendingName; // under this: with coalesce, text of one stream not yet sent
    private final StringBuilder pending = new StringBuilder();
    private volatile ExecutionStatus stopped; // TIMEOUT or CANCELLED once the run was stopped
    private ScheduledFuture<?> timer;

    public CommandRun(
            RunningCommand command,
            EventSink sink,
            Clock clock,
            long maxStreamBytes,
            Duration grace,
            ScheduledExecutorService timers,
            boolean coalesce) {
        this.coalesce = coalesce;
        this.command = command;
        this.sink = sink;
        this.clock = clock;
        this.maxStreamBytes = maxStreamBytes;
        this.grace = grace;
        this.timers = timers;
    }

    /** Starts reading; the sink gets the result once the command ended and its output is read. */
    public void start(Duration timeout) {
        sink.started();
        CompletableFuture<Void> out = read(command.stdout(), "stdout");
        CompletableFuture<Void> err = read(command.stderr(), "stderr");
        if (!timeout.isZero()) {
            timer = timers.schedule(() -> stop(ExecutionStatus.TIMEOUT), timeout.toNanos(), TimeUnit.NANOSECONDS);
        }
        CompletableFuture.allOf(out, err, command.exit()).whenComplete((ignored, failure) -> finish());
    }

    /** The client left: the command is stopped at once. */
    public void cancel() {
        stop(ExecutionStatus.CANCELLED);
    }

    private void stop(ExecutionStatus why) {
        synchronized (this) {
            if (stopped != null || command.exit().isDone()) {
                return;
            }
            stopped = why;
        }
        if (why == ExecutionStatus.CANCELLED) {
            command.signal("KILL");
            return;
        }
        command.signal("TERM");
        timers.schedule(() -> command.signal("KILL"), grace.toNanos(), TimeUnit.NANOSECONDS);
    }

    private CompletableFuture<Void> read(InputStream in, String name) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        Thread reader = new Thread(
                () -> {
                    try {
                        pump(in, name);
                    } finally {
                        done.complete(null);
                    }
                },
                "command-" + name + "-" + THREADS.incrementAndGet());
        reader.setDaemon(true);
        reader.start();
        return done;
    }

    private void pump(InputStream in, String name) {
        CharsetDecoder decoder = StandardCharsets.UTF_8
                .newDecoder()
                .onMalformedInput(CodingErrorAction.REPLACE)
                .onUnmappableCharacter(CodingErrorAction.REPLACE);
        ByteBuffer bytes = ByteBuffer.allocate(CHUNK);
        CharBuffer chars = CharBuffer.allocate(CHUNK);
        try (in) {
            int n;
            while ((n = in.read(bytes.array(), bytes.position(), bytes.remaining())) > 0) {
                bytes.position(bytes.position() + n);
                bytes.flip();
                decoder.decode(bytes, chars, false); // an incomplete character stays for the next read
                bytes.compact();
                chars.flip();
                emit(name, chars.toString(), n);
                chars.clear();
            }
            bytes.flip();
            decoder.decode(bytes, chars, true);
            decoder.flush(chars);
            chars.flip();
            emit(name, chars.toString(), 0);
        } catch (IOException e) {
            LOG.debugf("command output %s ended: %s", name, e.getMessage());
        }
    }

    private synchronized void emit(String name, String text, int bytes) {
        if (text.isEmpty() || stopped == ExecutionStatus.CANCELLED) {
            return;
        }
        if (streamed + bytes > maxStreamBytes) {
            if (!truncated) {
                truncated = true;
                flushPending();
                pendingName = null;
                sink.event(Event.stream(
                        clock.instant(),
                        "stderr",
                        "\n[output truncated: the command printed more than " + maxStreamBytes / (1 << 20)
                                + " MiB; the rest was dropped]\n"));
            }
            return;
        }
        streamed += bytes;
        if (coalesce) {
            // The plain JSON answer: consecutive output of one stream is one event, as for execute.
            if (!name.equals(pendingName)) {
                flushPending();
                pendingName = name;
            }
            pending.append(text);
            return;
        }
        if (!sink.awaitRoom()) {
            cancel();
            return;
        }
        sink.event(Event.stream(clock.instant(), name, text));
    }

    private synchronized void flushPending() {
        if (pendingName != null && pending.length() > 0) {
            sink.event(Event.stream(clock.instant(), pendingName, pending.toString()));
            pending.setLength(0);
        }
    }

    private void finish() {
        if (timer != null) {
            timer.cancel(false);
        }
        flushPending();
        int code = command.exit().getNow(-1);
        ExecutionStatus status = stopped == null ? ExecutionStatus.OK : stopped;
        double wallMs = (System.nanoTime() - startedNanos) / 1e6;
        sink.complete(new ExecutionResult(status, new ExecutionResult.Usage(wallMs, null, null), code));
    }
}
