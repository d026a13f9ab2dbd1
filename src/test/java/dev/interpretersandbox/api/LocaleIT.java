package dev.interpretersandbox.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.interpretersandbox.support.ServiceProcess;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A service started without a UTF-8 locale, as a container or a systemd unit without LANG starts
 * it: the JVM then encodes file names as ASCII, and cannot be told otherwise once started. A name
 * it cannot encode is a 400 that says how to start it (it was a 500), and the log says so at start.
 */
class LocaleIT {

    @TempDir
    Path state;

    @Test
    void withoutAUtf8LocaleANonAsciiFileNameIsA400SayingWhy() throws Exception {
        try (ServiceProcess service = ServiceProcess.start(state, Map.of("LANG", "C", "LC_ALL", "C"))) {
            assertTrue(service.log().contains("without a UTF-8 locale"), service.log());
            assertEquals(201, upload(service, "plain.txt").statusCode());
            for (HttpResponse<String> refused : new HttpResponse[] {
                upload(service, "%C3%A9t%C3%A9.txt"), service.get("/files/download/-/mnt/data/%C3%A9t%C3%A9.txt")
            }) {
                assertEquals(400, refused.statusCode(), refused.body());
                assertTrue(
                        refused.body().startsWith("{\"error\":\"the service cannot use the name été.txt"),
                        refused.body());
                assertTrue(refused.body().contains("LANG=C.UTF-8"), refused.body());
            }
        }
    }

    private static HttpResponse<String> upload(ServiceProcess service, String name) {
        return service.send(HttpRequest.newBuilder(URI.create(service.url("/files/upload/-/mnt/data/" + name)))
                .POST(HttpRequest.BodyPublishers.ofString("x")));
    }
}
