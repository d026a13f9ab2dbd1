package dev.interpretersandbox.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

@QuarkusTest
class TimeoutIT {

    @Test
    void timeoutReturnsOutputSoFarAndKeepsState() {
        String name = "t_" + UUID.randomUUID().toString().replace("-", "");
        Api.run(name + " = 'kept'");
        long start = System.nanoTime();
        JsonPath result = Api.execute("import time\nprint('started', flush=True)\ntime.sleep(30)", 1.0);
        long millis = (System.nanoTime() - start) / 1_000_000;
        assertEquals("timeout", result.getString("status"));
        assertEquals("started\n", Api.stdout(result));
        assertTrue(Api.events(result, "error").isEmpty(), "interrupted in time: no restart");
        assertTrue(millis < 1000 + 2000, "answered within timeout + grace, took " + millis + " ms");
        assertEquals("kept", Api.run("print(" + name + ")"), "variables survive the interrupt");
    }

    @Test
    void codeIgnoringSigintIsStoppedByARestartAndTheNextCallDoesNotWait() {
        String name = "s_" + UUID.randomUUID().toString().replace("-", "");
        Api.run(name + " = 1");
        JsonPath result = Api.execute(
                "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nprint('spinning', flush=True)\nwhile True: pass",
                1.0);
        assertEquals("timeout", result.getString("status"));
        assertEquals("spinning\n", Api.stdout(result));
        List<Map<String, Object>> errors = Api.events(result, "error");
        assertEquals(1, errors.size());
        assertEquals("SandboxRestarted", errors.get(0).get("ename"));
        assertTrue(
                ((String) errors.get(0).get("evalue")).contains("variables and imports are lost"), errors.toString());

        long start = System.nanoTime();
        JsonPath next = Api.execute("print('fresh')\n" + name);
        assertEquals("fresh\n", Api.stdout(next));
        assertEquals("NameError", Api.events(next, "error").get(0).get("ename"), "the old state is gone");
        long millis = (System.nanoTime() - start) / 1_000_000;
        assertTrue(millis < 15_000, "the next call got a fresh kernel without waiting on the old one: " + millis);
    }

    @Test
    void timeoutOfTheCellDoesNotCountKernelStart() {
        // Force a restart, then run with a timeout shorter than a kernel start (about 1.5 s here).
        Api.execute("import os\nos._exit(1)");
        JsonPath result = Api.execute("print('quick')", 0.5);
        assertEquals("ok", result.getString("status"));
        assertEquals("quick\n", Api.stdout(result));
    }

    @Test
    void kernelDeathIsAnErrorStatusAndTheNextCallGetsAFreshKernel() {
        JsonPath result = Api.execute("import os\nprint('bye', flush=True)\nos._exit(3)");
        assertEquals("error", result.getString("status"));
        Map<String, Object> error = Api.events(result, "error").get(0);
        assertEquals("KernelDied", error.get("ename"));
        assertTrue(((String) error.get("evalue")).contains("exited with code 3"), error.toString());
        assertEquals("alive", Api.run("print('alive')"));
    }
}
