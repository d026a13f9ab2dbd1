package dev.interpretersandbox.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.interpretersandbox.error.SandboxException;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Test;

/** Timeout, interrupt, restart, and kernels that die. */
class ExecutionLadderTest {

    @Test
    void aTimeoutReturnsTheOutputSoFarInterruptsAndKeepsTheKernel() {
        try (Core core = new Core()) {
            Sandbox sandbox = core.service.defaultSandbox();
            Core.Run run = Core.run(sandbox, "print started;sleep 60000", Duration.ofMillis(200));
            assertEquals(ExecutionStatus.TIMEOUT, run.status());
            assertEquals("started", run.stdout());
            assertEquals(List.of(), run.errors(), "interrupted in time: no restart, and its traceback is not reported");
            assertEquals(1, core.launcher.last().interrupts.get());
            assertEquals("kept", Core.run(sandbox, "print kept").stdout());
            assertEquals(1, core.launcher.launches.get());
        }
    }

    @Test
    void codeThatIgnoresTheInterruptGetsItsSandboxRestartedAfterTheGrace() {
        try (Core core = new Core()) {
            Sandbox sandbox = core.service.defaultSandbox();
            Core.Run run = Core.run(sandbox, "print spinning;spin", Duration.ofMillis(200));
            assertEquals(ExecutionStatus.TIMEOUT, run.status());
            assertEquals(List.of("SandboxRestarted"), run.errors());
            assertTrue(run.errorValue("SandboxRestarted").contains("variables and imports are lost"));
            assertTrue(core.launcher.kernels.get(0).destroyed());
            assertEquals(1, core.counter("sandbox.kernel.restarts", "cause", "interrupt_ignored"));
            assertEquals(SandboxState.STOPPED, sandbox.state());
            Core.Run next = Core.run(sandbox, "print fresh");
            assertEquals("fresh", next.stdout());
            assertEquals(2, core.launcher.launches.get());
        }
    }

    @Test
    void kernelStartDoesNotCountAgainstTheTimeout() throws InterruptedException {
        try (Core core = new Core()) {
            core.launcher.startGate = "start";
            Sandbox sandbox = core.service.defaultSandbox();
            CollectingSink sink = Core.start(sandbox, "print quick", Duration.ofMillis(100));
            awaitStarting(sandbox);
            Thread.sleep(300); // a start longer than the timeout (time passing, not ordering)
            core.launcher.open("start");
            assertEquals(ExecutionStatus.OK, sink.await(Duration.ofSeconds(10)).status());
        }
    }

    private static void awaitStarting(Sandbox sandbox) {
        ExecutionQueueTest.awaitState(sandbox, SandboxState.STARTING);
    }

    @Test
    void aKernelThatDiesDuringAnExecutionIsAnErrorAndTheNextCallGetsAFreshOne() {
        try (Core core = new Core()) {
            Sandbox sandbox = core.service.defaultSandbox();
            Core.Run run = Core.run(sandbox, "print bye;die");
            assertEquals(ExecutionStatus.ERROR, run.status());
            assertEquals(List.of("KernelDied"), run.errors());
            assertTrue(run.errorValue("KernelDied").contains("files in /mnt/data are kept"));
            assertEquals(1, core.counter("sandbox.kernel.restarts", "cause", "died"));
            assertEquals("alive", Core.run(sandbox, "print alive").stdout());
            assertEquals(2, core.launcher.launches.get());
        }
    }

    @Test
    void aKernelThatDiesWhileIdleIsFoundByTheWatcherAndTheNextCallIsTold() {
        try (Core core = new Core()) {
            Sandbox sandbox = core.service.defaultSandbox();
            Core.run(sandbox, "print before");
            FakeKernel kernel = core.launcher.last();
            kernel.crash();
            assertEquals(1, core.service.checkKernels());
            assertEquals(SandboxState.STOPPED, sandbox.state());
            assertTrue(kernel.destroyed(), "torn down now, not at the next call");
            Core.Run next = Core.run(sandbox, "print after");
            assertEquals("KernelDied", next.errors().get(0));
            assertTrue(next.errorValue("KernelDied").contains("died while idle"));
            assertEquals("after", next.stdout());
        }
    }

    @Test
    void aRestartEndsTheRunningExecutionAndTheNextCallStartsFresh() {
        try (Core core = new Core()) {
            Sandbox sandbox = core.service.defaultSandbox();
            Core.run(sandbox, "print warm");
            CollectingSink running = Core.start(sandbox, "spin", Duration.ofSeconds(30));
            ExecutionQueueTest.awaitState(sandbox, SandboxState.BUSY);
            sandbox.restart().toCompletableFuture().join();
            ExecutionResult result = running.await(Duration.ofSeconds(10));
            assertEquals(ExecutionStatus.ERROR, result.status());
            Core.Run died = new Core.Run(result, running);
            assertTrue(died.errorValue("KernelDied").contains("restarted by request"), died.errorValue("KernelDied"));
            assertEquals("fresh", Core.run(sandbox, "print fresh").stdout());
            assertEquals(2, core.launcher.launches.get());
        }
    }

    @Test
    void aKernelThatCannotStartMakesTheSandboxBrokenWithTheDiagnosis() {
        try (Core core = new Core()) {
            core.launcher.failStarts = "no runtime here";
            Sandbox sandbox = core.service.defaultSandbox();
            CollectingSink sink = Core.start(sandbox, "print x", Duration.ofSeconds(5));
            var failure = Assertions.assertThrows(SandboxException.class, () -> sink.await(Duration.ofSeconds(5)));
            assertEquals(SandboxException.Kind.UNAVAILABLE, failure.kind());
            assertTrue(failure.getMessage().contains("no runtime here"));
            assertEquals(SandboxState.BROKEN, sandbox.state());
            core.launcher.failStarts = null;
            assertEquals("x", Core.run(sandbox, "print x").stdout(), "the next call tries again");
            assertEquals(SandboxState.IDLE, sandbox.state());
        }
    }
}
