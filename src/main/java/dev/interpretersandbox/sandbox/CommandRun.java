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
import java.util.concurrent.Executor;
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
 * <p>Thread-safety: one reader thread per stream; events go to the sink one at a time under the
 * emit lock, which is also where back-pressure holds the readers; stopping takes another lock.
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
    private final Executor signals;
    private final long startedNanos = System.nanoTime();
    /** Guards stopped; never held while waiting. */
    private final Object state = new Object();
    /** Orders events to the sink; a reader may wait for room holding it. */
    private final Object emitting = new Object();

    private boolean over; // under emitting: the result was given
    /** How long after its exit a command's output may still be read before its result is given. */
    static final Duration LEFTOVER_WAIT = Duration.ofSeconds(2);

    private long streamed; // under emitting
    private boolean truncated; // under emitting
    private final boolean coalesce;
    private String pendingName; // under emitting: with coalesce, text of one stream not yet sent
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
            Executor signals,
            boolean coalesce) {
        this.signals = signals;
        this.coalesce = coalesce;
        this.command = command;
        this.sink = sink;
        this.clock = clock;
        this.maxStreamBytes = maxStreamBytes;
        this.grace = grace;
        this.timers = timers;
    }

    /**
     * Starts reading; the sink gets the result once the command ended and its output is read. A
     * command that exits but leaves processes holding its output open (server &) has them killed
     * with its process group half a second later, and its result is given at most
     * {@link #LEFTOVER_WAIT} after its exit either way.
     */
    public void start(Duration timeout) {
        sink.started();
        CompletableFuture<Void> out = read(command.stdout(), "stdout");
        CompletableFuture<Void> err = read(command.stderr(), "stderr");
        if (!timeout.isZero()) {
            timer = timers.schedule(() -> stop(ExecutionStatus.TIMEOUT), timeout.toNanos(), TimeUnit.NANOSECONDS);
        }
        CompletableFuture<Void> read = CompletableFuture.allOf(out, err);
        command.exit().whenComplete((code, failure) -> {
            timers.schedule(
                    () -> {
                        if (!read.isDone()) {
                            signals.execute(() -> command.signal("KILL"));
                        }
                    },
                    500,
                    TimeUnit.MILLISECONDS);
            read.completeOnTimeout(null, LEFTOVER_WAIT.toMillis(), TimeUnit.MILLISECONDS)
                    .whenComplete((ignored, error) -> finish());
        });
    }

    /** The client left: the command is stopped at once. */
    public void cancel() {
        stop(ExecutionStatus.CANCELLED);
    }

    /** Signals go out on another thread: they run runsc, and callers are event loops and timers. */
    private void stop(ExecutionStatus why) {
        synchronized (state) {
            if (stopped != null || command.exit().isDone()) {
                return;
            }
            stopped = why;
        }
        if (why == ExecutionStatus.CANCELLED) {
            signals.execute(() -> command.signal("KILL"));
            return;
        }
        signals.execute(() -> command.signal("TERM"));
        timers.schedule(() -> signals.execute(() -> command.signal("KILL")), grace.toNanos(), TimeUnit.NANOSECONDS);
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

    /** Under the emit lock (the stop path never takes it: a reader waits for room holding it). */
    private void emit(String name, String text, int bytes) {
        synchronized (emitting) {
            emitLocked(name, text, bytes);
        }
    }

    private void emitLocked(String name, String text, int bytes) {
        if (text.isEmpty() || stopped == ExecutionStatus.CANCELLED || over) {
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

    private void flushPending() {
        synchronized (emitting) {
            flushPendingLocked();
        }
    }

    private void flushPendingLocked() {
        if (pendingName != null && pending.length() > 0) {
            sink.event(Event.stream(clock.instant(), pendingName, pending.toString()));
            pending.setLength(0);
        }
    }

    private void finish() {
        if (timer != null) {
            timer.cancel(false);
        }
        synchronized (emitting) {
            if (over) {
                return;
            }
            flushPendingLocked();
            over = true; // what readers still get after this is dropped
        }
        int code = command.exit().getNow(-1);
        ExecutionStatus status = stopped == null ? ExecutionStatus.OK : stopped;
        double wallMs = (System.nanoTime() - startedNanos) / 1e6;
        sink.complete(new ExecutionResult(status, new ExecutionResult.Usage(wallMs, null, null), code));
    }
}
