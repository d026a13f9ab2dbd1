package dev.interpretersandbox.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.interpretersandbox.error.SandboxException;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Test;

/**
 * What the service does with a kernel that breaks the protocol: everything a sandbox sends is
 * bounded, forged ids never end an execution early, and a broken kernel is restarted with a
 * notice. Small output caps keep the sizes small.
 */
class ProtocolTest {

    private static final Map<String, String> SMALL_CAPS = Map.of(
            "sandbox.output.max-stream-bytes", "64K",
            "sandbox.output.max-display-bytes", "64K",
            "sandbox.output.max-error-bytes", "16K");

    @Test
    void aForgedDoneNeverEndsAnExecutionEarlyAndRestartsTheKernel() {
        try (Core core = new Core()) {
            Sandbox sandbox = core.service.defaultSandbox();
            Core.Run run = Core.run(sandbox, "forge-done;sleep 60000", Duration.ofSeconds(5));
            assertEquals(ExecutionStatus.ERROR, run.status(), "not ok: the code had not finished");
            assertTrue(
                    run.errorValue("KernelDied").contains("broke the driver protocol"), run.errorValue("KernelDied"));
            assertTrue(run.errorValue("KernelDied").contains("forged request id"));
            assertEquals(1, core.counter("sandbox.kernel.restarts", "cause", "protocol"));
            assertEquals("next", Core.run(sandbox, "print next").stdout(), "the next caller gets a fresh kernel");
            assertEquals(2, core.launcher.launches.get());
        }
    }

    @Test
    void outputALaterExecutionDidNotMakeIsNeverAttributedToIt() throws Exception {
        try (Core core = new Core()) {
            Sandbox sandbox = core.service.defaultSandbox();
            Core.run(sandbox, "print warm");
            FakeKernel kernel = core.launcher.last();
            // A line that arrives between executions (a background thread's) belongs to no one.
            Method raw = FakeKernel.class.getDeclaredMethod("raw", String.class);
            raw.setAccessible(true);
            raw.invoke(kernel, "{\"type\": \"stream\", \"name\": \"stdout\", \"text\": \"stale\"}");
            assertEquals("fresh", Core.run(sandbox, "print fresh").stdout());
        }
    }

    @Test
    void aLineLongerThanTheLimitIsABrokenProtocol() {
        try (Core core = new Core(SMALL_CAPS)) {
            Sandbox sandbox = core.service.defaultSandbox();
            Core.Run run = Core.run(sandbox, "line " + (3 << 20));
            assertEquals(ExecutionStatus.ERROR, run.status());
            assertTrue(run.errorValue("KernelDied").contains("a line longer than"), run.errorValue("KernelDied"));
        }
    }

    @Test
    void moreThanTheDriverCouldSendForOneRequestIsABrokenProtocol() {
        try (Core core = new Core(SMALL_CAPS)) {
            Sandbox sandbox = core.service.defaultSandbox();
            // 6 x (64K + 64K + 16K) + 16 MiB: a flood of 20 MiB of stream lines goes past it.
            Core.Run run = Core.run(sandbox, "flood 20480", Duration.ofSeconds(20));
            assertEquals(ExecutionStatus.ERROR, run.status());
            assertTrue(run.errorValue("KernelDied").contains("MiB for one request"), run.errorValue("KernelDied"));
            assertEquals(64 << 10, run.stdout().length(), "and what it printed was capped all along");
            assertTrue(core.launcher.kernels.get(0).written.get() < 24L << 20, "the service stopped reading");
        }
    }

    @Test
    void aFewMalformedLinesAndUnknownTypesAreDroppedAndCountedButAFloodOfThemIsNot() {
        try (Core core = new Core()) {
            Sandbox sandbox = core.service.defaultSandbox();
            Core.Run run = Core.run(sandbox, "junk 3;unknown 50;print fine");
            assertEquals(ExecutionStatus.OK, run.status());
            assertEquals(
                    List.of("stream"),
                    run.sink().events().stream().map(Event::type).toList());
            assertEquals(3, core.counter("sandbox.kernel.protocol.dropped", "why", "malformed"));
            assertEquals(50, core.counter("sandbox.kernel.protocol.dropped", "why", "unknown_type"));
            Core.Run flood = Core.run(sandbox, "junk 100");
            assertEquals(ExecutionStatus.ERROR, flood.status());
            assertTrue(flood.errorValue("KernelDied").contains("malformed lines"));
        }
    }

    @Test
    void errorEventsHaveTheirOwnBudget() {
        try (Core core = new Core(SMALL_CAPS)) {
            Sandbox sandbox = core.service.defaultSandbox();
            StringBuilder code = new StringBuilder();
            for (int i = 0; i < 200; i++) {
                code.append("raise E").append("x".repeat(1000)).append(';');
            }
            Core.Run run = Core.run(sandbox, code.toString());
            long errors = run.errors().size();
            assertTrue(errors < 20, "16 KiB of error text: " + errors);
            String stderr = run.sink().events().stream()
                    .filter(e -> e.data() instanceof Event.Stream s && s.name().equals("stderr"))
                    .map(e -> ((Event.Stream) e.data()).text())
                    .reduce("", String::concat);
            assertTrue(stderr.contains("[error output truncated"), stderr);
        }
    }

    /** A sink whose client does not read: the kernel's output waits, and the service holds little. */
    @Test
    void aClientThatDoesNotReadStopsTheKernelsOutputAtItsSource() throws Exception {
        try (Core core = new Core(Map.of("sandbox.output.max-stream-bytes", "64M"))) {
            Sandbox sandbox = core.service.defaultSandbox();
            Core.run(sandbox, "print warm");
            CountDownLatch reading = new CountDownLatch(1);
            CollectingSink slow = new CollectingSink() {
                @Override
                public boolean awaitRoom() {
                    try {
                        return reading.await(30, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        return false;
                    }
                }
            };
            sandbox.execute(new ExecutionRequest("flood 32768", Duration.ofSeconds(30), false), slow);
            FakeKernel kernel = core.launcher.last();
            long before = kernel.written.get();
            Thread.sleep(300); // the kernel would write 32 MiB meanwhile if nothing held it
            long held = kernel.written.get() - before;
            assertTrue(held < 2L << 20, "the kernel was held back after " + held + " bytes (pipe buffers)");
            reading.countDown();
            assertEquals(ExecutionStatus.OK, slow.await(Duration.ofSeconds(20)).status());
        }
    }

    @Test
    void aSandboxDeletedWhileItsKernelStartsNeverKeepsThatKernel() {
        try (Core core = new Core()) {
            Sandbox sandbox = core.service
                    .create(SandboxSpec.defaults(core.config))
                    .toCompletableFuture()
                    .join();
            core.launcher.startGate = "start";
            CollectingSink sink = Core.start(sandbox, "print never", Duration.ofSeconds(10));
            ExecutionQueueTest.awaitState(sandbox, SandboxState.STARTING);
            CompletionStage<Void> deleted = core.service.delete(sandbox.id());
            core.launcher.open("start");
            deleted.toCompletableFuture().join();
            SandboxException gone =
                    Assertions.assertThrows(SandboxException.class, () -> sink.await(Duration.ofSeconds(10)));
            assertEquals(SandboxException.Kind.NOT_FOUND, gone.kind());
            assertTrue(core.launcher.last().destroyed(), "the kernel that started after the delete is gone");
            assertEquals(SandboxState.DELETED, sandbox.state());
            assertFalse(core.launcher.last().ran.contains("print never"));
            Assertions.assertThrows(
                    SandboxException.class,
                    () -> sandbox.execute(
                            new ExecutionRequest("print late", Duration.ofSeconds(1), true), new CollectingSink()),
                    "a deleted sandbox takes nothing");
            assertTrue(core.service.knownKernels().isEmpty());
        }
    }

    @Test
    void deleteFailsTheQueueAndEndsTheRunningExecution() {
        try (Core core = new Core()) {
            Sandbox sandbox = core.service
                    .create(SandboxSpec.defaults(core.config))
                    .toCompletableFuture()
                    .join();
            Core.run(sandbox, "print warm");
            CollectingSink running = Core.start(sandbox, "spin", Duration.ofSeconds(30));
            CollectingSink queued = Core.start(sandbox, "print queued", Duration.ofSeconds(30));
            ExecutionQueueTest.awaitState(sandbox, SandboxState.BUSY);
            core.service.delete(sandbox.id()).toCompletableFuture().join();
            Core.Run ended = new Core.Run(running.await(Duration.ofSeconds(10)), running);
            assertEquals(ExecutionStatus.ERROR, ended.status());
            assertTrue(ended.errorValue("KernelDied").contains("deleted"));
            SandboxException failed =
                    Assertions.assertThrows(SandboxException.class, () -> queued.await(Duration.ofSeconds(10)));
            assertEquals(SandboxException.Kind.NOT_FOUND, failed.kind());
            assertFalse(Files.exists(core.state.resolve("sandboxes").resolve(sandbox.id())));
        }
    }

    static CompletableFuture<Void> done() {
        return CompletableFuture.completedFuture(null);
    }
}
