package dev.interpretersandbox.isolation;

import static dev.interpretersandbox.support.ServiceProcess.json;
import static dev.interpretersandbox.support.ServiceProcess.stdout;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.interpretersandbox.files.Trees;
import dev.interpretersandbox.support.ServiceProcess;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Whatever confines the service confines its sandboxes: the packaged service, started inside a
 * cgroup this test makes (with a memory limit, as a pod or a systemd unit would), puts every
 * sandbox cgroup under it, and the sandboxes' memory counts against it. Two services with their
 * own state directories never touch each other's cgroups. Real runsc, and process mode.
 */
class CgroupNestingIT {

    private static final Path MOUNT = Path.of("/sys/fs/cgroup");
    private static final long FIXTURE_LIMIT = 6L << 30;

    private final String name = "nesting-it-" + UUID.randomUUID().toString().substring(0, 8);
    private final List<Path> fixture = new ArrayList<>();
    private final List<Path> states = new ArrayList<>();
    private boolean unified;

    /** The fixture cgroup, made under this test's own cgroup in each controller the service uses. */
    @BeforeEach
    void makeFixture() throws IOException {
        unified = Files.exists(MOUNT.resolve("cgroup.controllers"));
        Map<String, String> own = Cgroups.ownCgroups();
        if (unified) {
            Path parent = MOUNT.resolve(own.get("").substring(1));
            Path dir = Files.createDirectories(parent.resolve(name));
            Files.writeString(dir.resolve("memory.max"), Long.toString(FIXTURE_LIMIT));
            fixture.add(dir);
        } else {
            for (String controller : List.of("memory", "cpu", "cpuacct", "pids")) {
                String path = own.getOrDefault(controller, "/");
                Path parent = MOUNT.resolve(controller).resolve(path.substring(1));
                fixture.add(Files.createDirectories(parent.resolve(name)));
            }
            Files.writeString(memory().resolve("memory.limit_in_bytes"), Long.toString(FIXTURE_LIMIT));
        }
    }

    private Path memory() {
        return fixture.get(0);
    }

    @AfterEach
    void removeFixture() throws IOException {
        for (Path top : fixture) {
            if (!Files.isDirectory(top)) {
                continue;
            }
            try (Stream<Path> tree = Files.walk(top)) {
                for (Path dir : tree.filter(Files::isDirectory)
                        .sorted(Comparator.reverseOrder())
                        .toList()) {
                    Files.deleteIfExists(dir);
                }
            }
        }
        states.forEach(Trees::delete);
    }

    private ServiceProcess start(String isolation) throws IOException {
        // world-readable, as /var/lib is: process-mode kernels run as another user and read the driver
        Path state = Files.createTempDirectory(
                Path.of("/var/tmp"),
                "nesting-it-",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
        states.add(state);
        List<Path> procs =
                fixture.stream().map(dir -> dir.resolve("cgroup.procs")).toList();
        return ServiceProcess.start(state, Map.of("SANDBOX_ISOLATION", isolation), procs);
    }

    @ParameterizedTest
    @ValueSource(strings = {"runsc", "process"})
    void sandboxCgroupsNestUnderTheServicesCgroupAndCountAgainstIt(String isolation) throws Exception {
        try (ServiceProcess service = start(isolation)) {
            JsonNode result = service.execute("", "x = bytearray(300 << 20)\nprint(len(x) >> 20)");
            assertEquals("300\n", stdout(result), result.toString());
            String kernel = json(service.get("/")).path("kernel").asText();

            List<Path> found = find(memory(), kernel);
            assertEquals(1, found.size(), "the kernel's memory cgroup is under the service's: " + found);
            long sandbox = usage(found.get(0));
            long parent = usage(memory());
            assertTrue(sandbox >= 300L << 20, "the sandbox holds its 300 MiB: " + sandbox);
            assertTrue(parent >= sandbox, "the service's cgroup counts it: " + parent + " < " + sandbox);
            if (!unified) {
                for (Path controller : fixture.subList(1, fixture.size())) {
                    assertEquals(1, find(controller, kernel).size(), controller + " holds " + kernel);
                }
            }
            assertEquals(
                    List.of(),
                    find(MOUNT.resolve(unified ? "" : "memory").resolve("interpreter-sandbox"), kernel),
                    "nothing at the top of the hierarchy any more");
            String metrics = service.get("/q/metrics").body();
            String budget = "sandbox_capacity_memory_budget_bytes " + (double) (FIXTURE_LIMIT / 100 * 80);
            assertTrue(
                    metrics.contains(budget),
                    "the memory budget is 80 % of the service's cgroup limit, not of the host's memory: "
                            + metrics.lines()
                                    .filter(l -> l.startsWith("sandbox_capacity"))
                                    .toList());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"runsc"})
    void twoServicesWithTheirOwnStateDirectoriesNeverSweepEachOther(String isolation) throws Exception {
        try (ServiceProcess first = start(isolation)) {
            assertEquals("1\n", stdout(first.execute("", "a = 1\nprint(a)")));
            String kernel = json(first.get("/")).path("kernel").asText();
            try (ServiceProcess second = start(isolation)) {
                assertEquals("2\n", stdout(second.execute("", "print(2)")));
                assertEquals(1, find(memory(), kernel).size(), "the second start swept nothing of the first");
            }
            JsonNode again = first.execute("", "print(a)");
            assertEquals("1\n", stdout(again), "the first service's kernel lives on: " + again);
            assertFalse(find(memory(), kernel).isEmpty());
        }
    }

    private static List<Path> find(Path top, String name) throws IOException {
        if (!Files.isDirectory(top)) {
            return List.of();
        }
        try (Stream<Path> tree = Files.walk(top, 5)) {
            return tree.filter(p ->
                            Files.isDirectory(p) && p.getFileName().toString().equals(name))
                    .toList();
        }
    }

    private long usage(Path dir) throws IOException {
        String file = unified ? "memory.current" : "memory.usage_in_bytes";
        return Long.parseLong(Files.readString(dir.resolve(file)).strip());
    }
}
