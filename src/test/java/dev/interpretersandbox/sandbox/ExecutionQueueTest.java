package dev.interpretersandbox.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.interpretersandbox.error.SandboxException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The queue of a sandbox and of the service: order, bounds, callers that leave. Fake kernels, no sleeps. */
class ExecutionQueueTest {

    private static final Duration LONG = Duration.ofSeconds(10);

    @Test
    void outputErrorsAndDisplaysBecomeEventsInOrderAndStreamsAreCoalesced() {
        try (Core core = new Core()) {
            Sandbox sandbox = core.service.defaultSandbox();
            Core.Run run = Core.run(sandbox, "print a;print b;display 42;err oops;raise ValueError");
            assertEquals(ExecutionStatus.OK, run.status());
            List<String> types = run.sink().events().stream().map(Event::type).toList();
            assertEquals(List.of("stream", "display_data", "stream", "error"), types);
            assertEquals("ab", run.stdout(), "consecutive output of one stream is one event");
            assertEquals(SandboxState.IDLE, sandbox.state());
        }
    }

    @Test
    void executionsRunOneAtATimeInArrivalOrder() {
        try (Core core = new Core()) {
            Sandbox sandbox = core.service.defaultSandbox();
            Core.run(sandbox, "print warm");
            CollectingSink first = Core.start(sandbox, "gate first;print 1", LONG);
            CollectingSink second = Core.start(sandbox, "print 2", LONG);
            CollectingSink third = Core.start(sandbox, "print 3", LONG);
            assertFalse(second.result().toCompletableFuture().isDone(), "waits behind the first");
            core.launcher.open("first");
            for (CollectingSink sink : List.of(first, second, third)) {
                assertEquals(ExecutionStatus.OK, sink.await(LONG).status());
            }
            assertEquals(List.of("print warm", "gate first;print 1", "print 2", "print 3"), core.launcher.last().ran);
        }
    }

    @Test
    void aFullQueueIs429AndSoIsTheServiceWideCap() {
        try (Core core = new Core(Map.of("sandbox.execute.queue-size", "1", "sandbox.execute.max-waiting", "2"))) {
            Sandbox one = core.service.defaultSandbox();
            Core.run(one, "print warm");
            Core.start(one, "gate hold", LONG);
            Core.start(one, "print queued", LONG);
            SandboxException full = assertThrows(SandboxException.class, () -> Core.start(one, "print x", LONG));
            assertEquals(SandboxException.Kind.BUSY, full.kind());
            assertTrue(full.getMessage().contains("queue size 1"), full.getMessage());
            assertTrue(full.retryAfter().isPresent());

            Sandbox two = core.service
                    .create(SandboxSpec.defaults(core.config))
                    .toCompletableFuture()
                    .join();
            Core.run(two, "print warm");
            Core.start(two, "gate hold", LONG);
            Core.start(two, "print queued", LONG); // the second waiting execution of the service
            Sandbox three = core.service
                    .create(SandboxSpec.defaults(core.config))
                    .toCompletableFuture()
                    .join();
            Core.start(three, "gate hold", LONG); // starts at once: it does not wait
            SandboxException cap = assertThrows(SandboxException.class, () -> Core.start(three, "print x", LONG));
            assertEquals(SandboxException.Kind.BUSY, cap.kind());
            assertTrue(cap.getMessage().contains("across the service"), cap.getMessage());
            core.launcher.open("hold");
        }
    }

    @Test
    void aQueuedExecutionWhoseCallerLeftNeverRunsAndFreesItsPlace() {
        try (Core core = new Core(Map.of("sandbox.execute.queue-size", "1"))) {
            Sandbox sandbox = core.service.defaultSandbox();
            Core.run(sandbox, "print warm");
            CollectingSink running = Core.start(sandbox, "gate hold", LONG);
            CollectingSink leaving = new CollectingSink();
            Execution queued = sandbox.execute(new ExecutionRequest("print never", LONG, true), leaving);
            queued.cancel();
            assertEquals(ExecutionStatus.CANCELLED, leaving.await(LONG).status());
            CollectingSink next = Core.start(sandbox, "print next", LONG); // its place is free again
            core.launcher.open("hold");
            assertEquals(ExecutionStatus.OK, running.await(LONG).status());
            assertEquals(ExecutionStatus.OK, next.await(LONG).status());
            assertFalse(core.launcher.last().ran.contains("print never"));
        }
    }

    @Test
    void aRunningExecutionWhoseCallerLeftIsInterruptedAndTheStateKept() {
        try (Core core = new Core()) {
            Sandbox sandbox = core.service.defaultSandbox();
            Core.run(sandbox, "print warm");
            CollectingSink sink = new CollectingSink();
            Execution running = sandbox.execute(new ExecutionRequest("sleep 60000", LONG, true), sink);
            FakeKernel kernel = core.launcher.last();
            long deadline = System.nanoTime() + LONG.toNanos();
            while (!kernel.ran.contains("sleep 60000")) {
                assertTrue(System.nanoTime() < deadline, "the code runs");
                Thread.onSpinWait();
            }
            running.cancel();
            assertEquals(ExecutionStatus.CANCELLED, sink.await(LONG).status());
            assertEquals(1, kernel.interrupts.get());
            assertEquals("after", Core.run(sandbox, "print after").stdout());
            assertEquals(1, core.launcher.launches.get(), "interrupted, not restarted");
        }
    }

    static void awaitState(Sandbox sandbox, SandboxState state) {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (sandbox.state() != state) {
            assertTrue(System.nanoTime() < deadline, "became " + state);
            Thread.onSpinWait();
        }
    }
}
