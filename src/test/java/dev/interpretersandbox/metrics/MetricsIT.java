package dev.interpretersandbox.metrics;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** /q/metrics counts what happened, as a dashboard would read it. */
@QuarkusTest
public class MetricsIT {

    public static double value(String scrape, String series) {
        for (String line : scrape.split("\n")) {
            if (line.startsWith(series + " ")) {
                return Double.parseDouble(line.substring(series.length() + 1).strip());
            }
        }
        return 0;
    }

    public static String scrape() {
        return given().get("/q/metrics").then().statusCode(200).extract().asString();
    }

    static String execute(String code, double timeout) {
        return given().contentType(ContentType.JSON)
                .body(Map.of("code", code, "timeout_secs", timeout))
                .post("/execute")
                .then()
                .statusCode(200)
                .extract()
                .path("status");
    }

    @Test
    void executionsTimeoutsRestartsAndTransfersAreCounted() {
        execute("1", 30); // a kernel is running before the first scrape
        String before = scrape();

        assertEquals("ok", execute("print('m')", 30));
        assertEquals("ok", execute("1 / 0", 30)); // an exception is still an ok execution
        assertEquals("timeout", execute("import time\ntime.sleep(30)", 0.5));
        assertEquals(
                "timeout",
                execute("import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True: pass", 0.5));
        byte[] file = new byte[12345];
        String name = "metrics-" + UUID.randomUUID() + ".bin";
        given().body(file).post("/files/upload/-/mnt/data/" + name).then().statusCode(201);
        given().get("/files/download/-/mnt/data/" + name).then().statusCode(200);
        given().get("/files/download/-/mnt/data/" + name).then().statusCode(200);

        String after = scrape();
        String ok = "sandbox_executions_total{status=\"ok\"}";
        String timeout = "sandbox_executions_total{status=\"timeout\"}";
        assertEquals(2, value(after, ok) - value(before, ok), ok);
        assertEquals(2, value(after, timeout) - value(before, timeout), timeout);
        assertEquals(2, value(after, "sandbox_timeouts_total") - value(before, "sandbox_timeouts_total"));
        String histogram = "sandbox_execution_seconds_count{status=\"ok\"}";
        assertEquals(2, value(after, histogram) - value(before, histogram), histogram);
        assertTrue(after.contains("sandbox_execution_seconds_bucket{status=\"ok\",le=\"0.1\"}"), "a histogram");
        String restarts = "sandbox_kernel_restarts_total{cause=\"interrupt_ignored\"}";
        assertEquals(1, value(after, restarts) - value(before, restarts), restarts);
        assertEquals(
                12345, value(after, "sandbox_uploaded_bytes_total") - value(before, "sandbox_uploaded_bytes_total"));
        assertEquals(
                2 * 12345,
                value(after, "sandbox_downloaded_bytes_total") - value(before, "sandbox_downloaded_bytes_total"));
        // the restart left no kernel until the next execution
        assertEquals(0, value(after, "sandbox_live"));
        execute("1", 30);
        assertEquals(1, value(scrape(), "sandbox_live"));
    }

    @Test
    void aKernelThatDiesIsCountedByCause() {
        String before = scrape();
        assertEquals("error", execute("import os\nos._exit(7)", 30));
        String after = scrape();
        String died = "sandbox_kernel_restarts_total{cause=\"died\"}";
        assertEquals(1, value(after, died) - value(before, died));
        String error = "sandbox_executions_total{status=\"error\"}";
        assertEquals(1, value(after, error) - value(before, error));
    }
}
