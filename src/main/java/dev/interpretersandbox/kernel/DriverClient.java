package dev.interpretersandbox.kernel;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Predicate;

/**
 * The client side of the driver protocol, and the only code that builds driver requests.
 *
 * <pre>
 * in:  {"op": "execute", "id": ID, "code": "...", "limits": {...}}   answered: started, output..., done
 *      {"op": "env", "id": ID, "env": {"NAME": "value"}}              answered: done
 *      {"op": "ping", "id": ID}                                       answered: done
 *      {"op": "context_create" | "context_restart" | "context_delete", "id": ID, "context": C,
 *       "cwd": "/dir"}                                                 answered: done
 *      an execute may carry "env" (for that execution) and "context" (whose namespace it uses)
 * out: ready (once), started {id}, stream, display_data, error, truncated, done {id}
 * </pre>
 *
 * <p>Request ids are 128 random bits, so code in the sandbox cannot guess the id of a request to
 * come, and the client checks every id it gets back: output is an execution's only between its
 * {@code started} and its {@code done}, so nothing an earlier execution or a background thread
 * printed is ever attributed to a later one; a {@code started} or {@code done} with another id,
 * or out of order, is a broken protocol and ends the kernel.
 *
 * <p>Thread-safety: one request at a time (the sandbox runs one job at a time); messages reach the
 * observer on the channel's reader thread.
 */
public final class DriverClient {

    private static final SecureRandom RANDOM = new SecureRandom();

    /** What the driver cuts an execution's output at; the service enforces the same caps again. */
    public record OutputLimits(long streamChars, long displayBytes, int displays, long errorChars, int lineBytes) {}

    /** Receives one execution's progress on the channel's reader thread. */
    public interface Observer {
        /** The driver took the request: the code runs now. */
        void started();

        /** Output of the execution, in order; may block to slow the kernel down (back-pressure). */
        void output(DriverMessage.Output output);

        /** The code finished. */
        void done();

        /** The channel ended first: {@link DriverMessage.Closed} or {@link DriverMessage.Violation}. */
        void ended(DriverMessage end);
    }

    private final KernelChannel channel;
    private final ObjectMapper mapper;

    public DriverClient(KernelChannel channel) {
        this.channel = channel;
        this.mapper = channel.mapper();
    }

    public KernelChannel channel() {
        return channel;
    }

    /** Waits for the driver's ready line; null on timeout, or how the channel ended. */
    public DriverMessage awaitReady(Duration timeout) throws InterruptedException {
        return await(null, message -> message instanceof DriverMessage.Ready, timeout);
    }

    /** A no-op request; answered with done when the driver serves requests (a restored kernel). */
    public DriverMessage ping(Duration timeout) throws InterruptedException {
        String id = newId();
        return await(request("ping", id), done(id), timeout);
    }

    /** Sets variables in the kernel's os.environ before any code of the sandbox runs. */
    public DriverMessage setEnvironment(Map<String, String> env, Duration timeout) throws InterruptedException {
        String id = newId();
        ObjectNode request = mapper.createObjectNode().put("op", "env").put("id", id);
        ObjectNode variables = request.putObject("env");
        env.forEach(variables::put);
        return await(bytes(request), done(id), timeout);
    }

    /** Makes, resets or deletes a code context (a namespace and working directory of its own). */
    public DriverMessage context(String op, String context, String cwd, Duration timeout) throws InterruptedException {
        String id = newId();
        ObjectNode request =
                mapper.createObjectNode().put("op", op).put("id", id).put("context", context);
        if (cwd != null) {
            request.put("cwd", cwd);
        }
        return await(bytes(request), done(id), timeout);
    }

    private static Predicate<DriverMessage> done(String id) {
        return message ->
                message instanceof DriverMessage.Done answer && answer.id().equals(id);
    }

    /**
     * The one wait with a deadline: sends request (if any), then waits until a message answers it
     * or the channel ends. Returns the answer, the channel's end, or null at the deadline. Other
     * messages meanwhile are dropped.
     */
    private DriverMessage await(byte[] request, Predicate<DriverMessage> answers, Duration timeout)
            throws InterruptedException {
        CompletableFuture<DriverMessage> reply = new CompletableFuture<>();
        channel.listen(message -> {
            if (answers.test(message)
                    || message instanceof DriverMessage.Closed
                    || message instanceof DriverMessage.Violation) {
                reply.complete(message);
            }
        });
        try {
            channel.start();
            DriverMessage ended = channel.end();
            if (ended != null) {
                return ended;
            }
            if (request != null) {
                channel.newEpoch();
                channel.send(request);
            }
            return reply.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            return null;
        } catch (IOException e) {
            DriverMessage ended = channel.end();
            return ended != null ? ended : new DriverMessage.Closed(Instant.now());
        } catch (ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        } finally {
            channel.listen(null);
        }
    }

    /**
     * Sends an execute request; from here on observer gets the execution's messages until done or
     * the channel's end. Returns the request's id. Writing the request may block while the kernel
     * does not read (its owner bounds that with a deadline).
     */
    public String execute(String code, OutputLimits limits, Observer observer) throws IOException {
        return execute(code, Map.of(), null, limits, observer);
    }

    /** As {@link #execute(String, OutputLimits, Observer)}, with variables for this execution and a context (or null). */
    public String execute(String code, Map<String, String> env, String context, OutputLimits limits, Observer observer)
            throws IOException {
        String id = newId();
        ObjectNode request =
                mapper.createObjectNode().put("op", "execute").put("id", id).put("code", code);
        if (!env.isEmpty()) {
            ObjectNode variables = request.putObject("env");
            env.forEach(variables::put);
        }
        if (context != null) {
            request.put("context", context);
        }
        request.putObject("limits")
                .put("stream_chars", limits.streamChars())
                .put("display_bytes", limits.displayBytes())
                .put("displays", limits.displays())
                .put("error_chars", limits.errorChars())
                .put("line_bytes", limits.lineBytes());
        Execution execution = new Execution(id, observer);
        channel.listen(execution::accept);
        channel.newEpoch();
        DriverMessage ended = channel.end();
        if (ended != null) {
            channel.listen(null);
            observer.ended(ended);
            return id;
        }
        channel.send(bytes(request));
        return id;
    }

    /** Stops passing messages to the current execution's observer (its execution is over). */
    public void detach() {
        channel.listen(null);
    }

    /** One execute request's view of the channel; runs on the reader thread. */
    private final class Execution {
        private final String id;
        private final Observer observer;
        private boolean started;
        private boolean over;

        Execution(String id, Observer observer) {
            this.id = id;
            this.observer = observer;
        }

        void accept(DriverMessage message) {
            if (over) {
                return;
            }
            if (message instanceof DriverMessage.Output output) {
                if (started) {
                    observer.output(output); // before started it is left over from earlier: no one's
                }
            } else if (message instanceof DriverMessage.Started s) {
                if (started || !s.id().equals(id)) {
                    channel.violate("it acknowledged a request that was not sent (a forged request id)");
                    return;
                }
                started = true;
                observer.started();
            } else if (message instanceof DriverMessage.Done d) {
                if (!started || !d.id().equals(id)) {
                    channel.violate("it finished a request that was not running (a forged request id)");
                    return;
                }
                over = true;
                detach();
                observer.done();
            } else if (message instanceof DriverMessage.Ready) {
                channel.violate("it announced a fresh start while running");
            } else if (message instanceof DriverMessage.Closed || message instanceof DriverMessage.Violation) {
                end(message);
            }
        }

        private void end(DriverMessage end) {
            over = true;
            detach();
            observer.ended(end);
        }
    }

    private byte[] request(String op, String id) {
        return bytes(mapper.createObjectNode().put("op", op).put("id", id));
    }

    private byte[] bytes(ObjectNode request) {
        try {
            byte[] json = mapper.writeValueAsBytes(request);
            byte[] line = Arrays.copyOf(json, json.length + 1);
            line[json.length] = '\n';
            return line;
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write a driver request", e);
        }
    }

    private static String newId() {
        byte[] bytes = new byte[16];
        RANDOM.nextBytes(bytes);
        return HexFormat.of().formatHex(bytes);
    }
}
