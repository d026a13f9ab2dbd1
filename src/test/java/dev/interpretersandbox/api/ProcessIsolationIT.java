package dev.interpretersandbox.api;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.path.json.JsonPath;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** What process mode promises on its own: user, rlimits, cgroup limits, group signals, teardown. */
@QuarkusTest
@TestProfile(ProcessModeProfile.class)
class ProcessIsolationIT {

    @Test
    void codeRunsAsTheSandboxUserWithoutCapabilitiesOrTheServiceEnvironment() {
        String out = Api.run("import os\n"
                + "status = dict(l.split(':\\t', 1) for l in open('/proc/self/status').read().splitlines() if ':\\t' in l)\n"
                + "print(os.getuid(), os.getgid(), os.getgroups(), status['CapEff'].strip(), status['NoNewPrivs'].strip())\n"
                + "print(sorted(k for k in os.environ if k.startswith(('SANDBOX', 'QUARKUS', 'JAVA'))))\n"
                + "print(os.getcwd(), os.environ['HOME'])");
        assertEquals("10001 10001 [] 0000000000000000 1\n[]\n/mnt/data /mnt/data", out);
        long service = ProcessHandle.current().pid();
        assertEquals(
                "PermissionError",
                Api.run("try:\n    open('/proc/" + service + "/environ').read()\n    print('readable')\n"
                        + "except OSError as e:\n    print(type(e).__name__)"),
                "the service's environment (it may hold the token) is not readable");
    }

    @Test
    void rlimitsAndHostCgroupLimitsApply() throws Exception {
        String limits = Api.run("import resource as r\n"
                + "print([r.getrlimit(x)[0] for x in (r.RLIMIT_AS, r.RLIMIT_FSIZE, r.RLIMIT_NOFILE, r.RLIMIT_CORE)])");
        assertEquals("[" + (1L << 30) / 100 * 85 + ", " + (1L << 30) + ", 1024, 0]", limits);
        String kernel = given().get("/").jsonPath().getString("kernel");
        Path memory = IsolationIT.findCgroup("memory", kernel);
        assertEquals(
                String.valueOf(1L << 30),
                Files.readString(memory.resolve("memory.limit_in_bytes")).strip());
        assertEquals(
                "512",
                Files.readString(IsolationIT.findCgroup("pids", kernel).resolve("pids.max"))
                        .strip());
        assertEquals(
                "100000",
                Files.readString(IsolationIT.findCgroup("cpu", kernel).resolve("cpu.cfs_quota_us"))
                        .strip());
        String pid = Api.run("import os\nprint(os.getpid())");
        assertTrue(Files.readString(memory.resolve("cgroup.procs")).contains(pid), "the kernel is in its cgroup");
    }

    @Test
    void aForkBombGetsEagainAtTheCgroupPidsLimit() {
        String out = Api.run("import os, time\nn = 0\ntry:\n    for _ in range(1000):\n"
                + "        if os.fork() == 0:\n            os.execv('/usr/bin/sleep', ['sleep', '3'])\n        n += 1\n"
                + "except OSError as e:\n    print(n, e.errno)\nfor _ in range(n):\n    os.wait()");
        assertTrue(out.endsWith(" 11"), out);
        int forked = Integer.parseInt(out.split(" ")[0]);
        assertTrue(forked > 400 && forked < 512, "pids.max is 512 for the whole kernel: " + out);
        assertEquals("alive", Api.run("print('alive')"));
    }

    @Test
    void aTimeoutInterruptsARunningSubprocessToo() {
        Api.run("kept_in_process_mode = 1");
        JsonPath result = Api.execute("import subprocess\nsubprocess.run(['sleep', '60'])", 1.0);
        assertEquals("timeout", result.getString("status"));
        assertTrue(Api.events(result, "error").isEmpty(), "interrupted, not restarted: " + result.prettify());
        assertEquals("1", Api.run("print(kept_in_process_mode)"));
    }

    @Test
    void teardownKillsEveryProcessOfTheKernelEvenOnesThatLeftItsGroup() throws Exception {
        String pid = Api.run("import subprocess\np = subprocess.Popen(['setsid', 'sleep', '300'])\nprint(p.pid)");
        String kernel = given().get("/").jsonPath().getString("kernel");
        Path cgroup = IsolationIT.findCgroup("memory", kernel);
        ProcessHandle escaped = ProcessHandle.of(Long.parseLong(pid)).orElseThrow();
        assertTrue(escaped.isAlive());

        JsonPath died = Api.execute("import os\nos._exit(3)");
        assertEquals("error", died.getString("status"));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (escaped.isAlive() && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertFalse(escaped.isAlive(), "a process that called setsid is still killed, through the cgroup");
        assertFalse(Files.exists(cgroup), "the cgroup is removed");
        assertEquals("fresh", Api.run("print('fresh')"));
    }
}
