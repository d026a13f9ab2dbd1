package dev.interpretersandbox.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Runs the kernel driver's own Python tests (the driver is product code too). */
class DriverProtocolIT {

    @Test
    void pythonDriverTestsPass() throws Exception {
        String python = System.getProperty("sandbox.test.python", "/usr/bin/python3");
        Process process = new ProcessBuilder(List.of(
                        python,
                        "-m",
                        "unittest",
                        "discover",
                        "-v",
                        "-s",
                        "src/main/python/sandbox_kernel",
                        "-p",
                        "test_*.py"))
                .redirectErrorStream(true)
                .start();
        process.getOutputStream().close();
        byte[] output = process.getInputStream().readAllBytes();
        assertTrue(process.waitFor(120, TimeUnit.SECONDS), "driver tests did not finish");
        String text = new String(output, StandardCharsets.UTF_8);
        System.out.println(text);
        assertEquals(0, process.exitValue(), text);
        assertTrue(text.contains("OK") && !text.contains("Ran 0 tests"), text);
    }
}
