package dev.interpretersandbox.api;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.interpretersandbox.isolation.Cgroups;
import io.quarkus.arc.Arc;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import io.restassured.path.json.JsonPath;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What code inside the sandbox can and cannot do, checked from inside and from the host. */
@QuarkusTest
class IsolationIT {

    @Test
    void runsAsAnUnprivilegedUserWithoutCapabilities() {
        String out = Api.run("import os\n"
                + "status = open('/proc/self/status').read()\n"
                + "caps = [l.split()[1] for l in status.splitlines() if l.startswith('Cap')]\n"
                + "print(os.getuid(), os.getgid(), set(caps))");
        assertEquals("10001 10001 {'0000000000000000'}", out);
    }

    @Test
    void onlyTheAllowListOfTheHostFilesystemExists() throws Exception {
        Files.writeString(Path.of("target", "host-marker.txt"), "host");
        String out = Api.run("import os\n"
                + "for p in ['/root', '/home', '/var', '/srv', '/boot', '/etc/shadow', '/etc/ssh',"
                + " '/etc/hostname', '/usr/bin/python3', '/mnt/data', '"
                + Path.of("target").toAbsolutePath() + "']:\n"
                + "    print(p, os.path.exists(p))\n"
                + "print(sorted(os.listdir('/home')), os.readlink('/home/user'))\n"
                + "print(sorted(os.listdir('/')))\n"
                + "print(sorted(os.listdir('/opt')))");
        assertTrue(out.contains("/root False"), out);
        // not the host's /home: only E2B's /home/user, a link to the workspace
        assertTrue(out.contains("['user'] /mnt/data"), out);
        assertTrue(out.contains("/var False"), out);
        assertTrue(out.contains("/srv False"), out);
        assertTrue(out.contains("/etc/shadow False"), out);
        assertTrue(out.contains("/etc/ssh False"), out);
        assertTrue(out.contains("/usr/bin/python3 True"), out);
        assertTrue(
                out.contains(Path.of("target").toAbsolutePath() + " False"),
                "the service's files are invisible: " + out);
        assertTrue(
                out.contains(
                        "['bin', 'dev', 'etc', 'home', 'lib', 'lib64', 'mnt', 'opt', 'proc', 'sbin', 'sys', 'tmp', 'usr']"),
                out);
        assertTrue(out.endsWith("['sandbox']"), out);
    }

    @Test
    void theRootFilesystemAndUsrAreReadOnly() {
        String out = Api.run("import errno\n"
                + "for p in ['/usr/evil', '/etc/evil', '/evil', '/opt/sandbox/kernel_driver.py']:\n"
                + "    try:\n"
                + "        open(p, 'a').write('x'); print(p, 'written')\n"
                + "    except OSError as e:\n"
                + "        print(p, errno.errorcode[e.errno])");
        assertTrue(!out.contains("written"), out);
        assertTrue(Files.notExists(Path.of("/usr/evil")) && Files.notExists(Path.of("/etc/evil")));
    }

    @Test
    void thereIsNoNetworkButLoopback() {
        String out = Api.run("import socket\n"
                + "def tcp(host, port):\n"
                + "    s = socket.socket(); s.settimeout(3)\n"
                + "    try:\n"
                + "        s.connect((host, port)); return 'connected'\n"
                + "    except OSError as e:\n"
                + "        return type(e).__name__\n"
                + "    finally:\n"
                + "        s.close()\n"
                + "print(tcp('1.1.1.1', 80))\n"
                + "print(tcp('10.0.0.1', 80))\n"
                + "import os\n"
                + "print(sorted(os.listdir('/sys/class/net')) if os.path.exists('/sys/class/net') else ['lo'])\n"
                + "try:\n"
                + "    socket.getaddrinfo('example.com', 80); print('resolved')\n"
                + "except OSError as e:\n"
                + "    print('no dns')");
        String[] lines = out.split("\n");
        assertTrue(!lines[0].equals("connected") && !lines[1].equals("connected"), out);
        assertEquals("no dns", lines[3], out);
    }

    @Test
    void theHostsPortsAreUnreachable() {
        // The service itself listens on the host; from the sandbox, even its port is closed.
        int port = RestAssured.port;
        String out = Api.run("import socket\ns = socket.socket(); s.settimeout(3)\n"
                + "try:\n    s.connect(('127.0.0.1', " + port + ")); print('reached the host')\n"
                + "except OSError as e:\n    print('refused')");
        assertEquals("refused", out);
    }

    @Test
    void rlimitsAreSetInside() {
        String out = Api.run("import resource\n"
                + "for name in ['RLIMIT_NPROC', 'RLIMIT_AS', 'RLIMIT_FSIZE', 'RLIMIT_NOFILE']:\n"
                + "    print(name, resource.getrlimit(getattr(resource, name))[0])");
        assertTrue(out.contains("RLIMIT_NPROC 16"), out);
        assertTrue(out.contains("RLIMIT_AS " + (1073741824L / 100 * 85)), out);
        assertTrue(out.contains("RLIMIT_FSIZE 1073741824"), out);
        assertTrue(out.contains("RLIMIT_NOFILE 1024"), out);
    }

    @Test
    void aFileLargerThanTheWorkspaceCannotBeWritten() {
        String out = Api.run("f = open('sparse-too-big', 'wb')\n"
                + "f.seek(1073741824)\n"
                + "try:\n"
                + "    f.write(b'x'); f.flush(); print('written')\n"
                + "except OSError as e:\n"
                + "    print('refused', e.errno)\n"
                + "import os\n"
                + "f.close() if False else None\n"
                + "os.remove('sparse-too-big')");
        assertEquals("refused 27", out); // EFBIG
    }

    @Test
    void tmpIsASizeLimitedTmpfs() {
        String out = Api.run("import os\n"
                + "st = os.statvfs('/tmp')\n"
                + "print(st.f_blocks * st.f_frsize)\n"
                + "try:\n"
                + "    with open('/tmp/fill', 'wb') as f:\n"
                + "        for _ in range(40): f.write(b'x' * 1024 * 1024)\n"
                + "    print('filled')\n"
                + "except OSError as e:\n"
                + "    print('full')\n"
                + "os.remove('/tmp/fill')");
        assertTrue(out.endsWith("full"), "the test profile's /tmp is 32 MiB: " + out);
    }

    @Test
    void cgroupLimitsApplyOnTheHost() throws Exception {
        Api.run("pass");
        String kernel = given().get("/").jsonPath().getString("kernel");
        Path memory = findCgroup("memory", kernel);
        assertEquals(
                "1073741824",
                Files.readString(memory.resolve("memory.limit_in_bytes")).strip());
        Path pids = findCgroup("pids", kernel);
        assertEquals("512", Files.readString(pids.resolve("pids.max")).strip());
        Path cpu = findCgroup("cpu", kernel);
        assertEquals("100000", Files.readString(cpu.resolve("cpu.cfs_quota_us")).strip());
        assertEquals(
                "100000", Files.readString(cpu.resolve("cpu.cfs_period_us")).strip());
    }

    /** The leaf cgroup runsc made for a container, under the service's own cgroup. */
    static Path findCgroup(String controller, String kernel) {
        Cgroups cgroups = Arc.container().instance(Cgroups.class).get();
        Path leaf = cgroups.dir(controller, cgroups.pathFor(kernel));
        assertTrue(Files.isDirectory(leaf), "no cgroup for " + kernel + " at " + leaf);
        return leaf;
    }

    @Test
    void aBigAllocationIsAMemoryErrorAndTheKernelSurvives() {
        Api.run("survivor = 'still here'");
        JsonPath result = Api.execute("x = bytearray(2 * 1024**3)");
        assertEquals("ok", result.getString("status"));
        assertEquals("MemoryError", Api.events(result, "error").get(0).get("ename"));
        assertEquals("still here", Api.run("print(survivor)"));
    }

    @Test
    void threadsDoNotUseUpTheAddressSpaceLimit() {
        // Eight threads that each allocated something, then one 600 MiB buffer: it fits in the
        // 1 GiB sandbox's 870 MiB address space unless every thread reserved a malloc arena.
        String out = Api.run("import threading\n"
                + "barrier = threading.Barrier(8)\n"
                + "def work():\n"
                + "    block = bytes(200000)\n"
                + "    barrier.wait()\n"
                + "threads = [threading.Thread(target=work) for _ in range(8)]\n"
                + "for t in threads: t.start()\n"
                + "for t in threads: t.join()\n"
                + "big = bytearray(600 * 1024**2)\n"
                + "print(len(big) >> 20)\n"
                + "del big");
        assertEquals("600", out);
    }

    @Test
    void aMemoryBombAcrossProcessesKillsOnlyTheSandboxAndSaysWhy() {
        // Fresh processes (no inherited address space), each under RLIMIT_AS, together over 1 GiB.
        JsonPath result = Api.execute(
                "import subprocess, sys, time\n"
                        + "hog = \"b = b'x' * (400 * 1024**2); import time; time.sleep(30)\"\n"
                        + "procs = [subprocess.Popen([sys.executable, '-c', hog]) for _ in range(4)]\n"
                        + "time.sleep(30)",
                60.0);
        assertEquals("error", result.getString("status"), result.prettify());
        Map<String, Object> error = Api.events(result, "error").get(0);
        assertEquals("KernelDied", error.get("ename"));
        assertTrue(((String) error.get("evalue")).contains("out of memory"), error.toString());
        assertTrue(((String) error.get("evalue")).contains("1 GiB"), error.toString());
        assertEquals("fresh", Api.run("print('fresh')"));
    }

    @Test
    void orphanedProcessesAreReapedAndDoNotUseUpTheProcessLimit() {
        // Each shell exits at once and leaves its background sleep an orphan of PID 1. Without
        // an init that reaps them, 30 exited orphans would hold more slots than RLIMIT_NPROC (16).
        // One at a time: on ptrace every live process costs host tasks under the pids limit.
        Api.run("import subprocess, time\n"
                + "for _ in range(30):\n"
                + "    subprocess.run('sleep 0.01 &', shell=True)\n"
                + "    time.sleep(0.05)\n"
                + "time.sleep(0.3)");
        assertEquals(
                "forked 12",
                Api.run("import os\nkids = []\n"
                        + "for _ in range(12):\n"
                        + "    pid = os.fork()\n"
                        + "    if pid == 0:\n"
                        + "        os._exit(0)\n"
                        + "    kids.append(pid)\n"
                        + "for pid in kids:\n"
                        + "    os.waitpid(pid, 0)\n"
                        + "print('forked', len(kids))"));
    }

    @Test
    void theTimeoutInterruptReachesARunningSubprocess() {
        JsonPath result = Api.execute("import subprocess\nsubprocess.run(['sleep', '30'])", 1.0);
        assertEquals("timeout", result.getString("status"));
        assertTrue(Api.events(result, "error").isEmpty(), "no restart needed: " + result.prettify());
        assertEquals(
                "[]",
                Api.run("import subprocess\n"
                        + "print([l for l in subprocess.run(['ps', '-eo', 'comm'], capture_output=True, text=True)"
                        + ".stdout.split() if l == 'sleep'])"));
    }

    @Test
    void aForkBombGetsEagainAndTheKernelSurvives() {
        JsonPath result = Api.execute(
                "import os, time\n"
                        + "survivor = 1\n"
                        + "children = 0\n"
                        + "try:\n"
                        + "    while True:\n"
                        + "        if os.fork() == 0:\n"
                        + "            time.sleep(3); os._exit(0)\n"
                        + "        children += 1\n"
                        + "except OSError as e:\n"
                        + "    print(children, e.errno)",
                60.0);
        assertEquals("ok", result.getString("status"), result.prettify());
        String[] out = Api.stdout(result).strip().split(" ");
        assertEquals("11", out[1], "EAGAIN");
        assertTrue(Integer.parseInt(out[0]) < 16, "stopped by RLIMIT_NPROC: " + out[0]);
        // The children exit after 3 s; reaping them frees the process slots again.
        assertEquals("1", Api.run("import os\nfor _ in range(children):\n    os.wait()\nprint(survivor)"));
    }
}
