package dev.interpretersandbox.isolation;

import dev.interpretersandbox.config.SandboxConfig;
import jakarta.enterprise.context.ApplicationScoped;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;

/**
 * Lays out the allow-list root filesystem every sandbox boots from: an empty skeleton with
 * {@code bin -> usr/bin} style links, a generated minimal {@code /etc}, mount points for the
 * read-only binds of the host's {@code /usr} and a handful of {@code /etc} entries the Python
 * stack needs, and the kernel driver. Nothing else of the host exists inside.
 */
@ApplicationScoped
public class RootFs {

    /** Host /etc entries a data-science kernel needs (BLAS alternatives, fonts, matplotlibrc, ...). */
    static final List<String> ETC_BINDS = List.of(
            "alternatives", "fonts", "python3", "python3.11", "matplotlibrc", "ld.so.cache", "localtime", "mime.types");

    static final String DRIVER_RESOURCE = "python/sandbox_kernel/kernel_driver.py";
    static final String DRIVER_IN_SANDBOX = "/opt/sandbox/kernel_driver.py";

    private final StateLayout layout;
    private final int uid;

    public RootFs(SandboxConfig config) {
        this.layout = StateLayout.of(config);
        this.uid = config.userId();
    }

    /** (Re)creates the skeleton and the driver. Idempotent. */
    public void prepare() {
        try {
            Path root = layout.rootfs();
            for (String dir : List.of("usr", "etc", "mnt/data", "home", "tmp", "proc", "dev", "sys", "opt/sandbox")) {
                Files.createDirectories(root.resolve(dir));
            }
            // E2B's home and working directory is the workspace itself, by a link: a second bind
            // mount of the same directory is not usable under this runsc.
            Path home = root.resolve("home/user");
            if (!Files.isSymbolicLink(home)) {
                Files.deleteIfExists(home);
                Files.createSymbolicLink(home, Path.of("/mnt/data"));
            }
            for (String link : List.of("bin", "lib", "lib64", "sbin")) {
                Path path = root.resolve(link);
                if (!Files.isSymbolicLink(path)) {
                    Files.deleteIfExists(path);
                    Files.createSymbolicLink(path, Path.of("usr", link));
                }
            }
            Path etc = root.resolve("etc");
            Files.writeString(
                    etc.resolve("passwd"),
                    "root:x:0:0:root:/root:/usr/sbin/nologin\n"
                            + "sandbox:x:" + uid + ":" + uid + ":sandbox:/mnt/data:/bin/sh\n"
                            + "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n");
            Files.writeString(etc.resolve("group"), "root:x:0:\nsandbox:x:" + uid + ":\nnogroup:x:65534:\n");
            Files.writeString(etc.resolve("hosts"), "127.0.0.1 localhost sandbox\n::1 localhost\n");
            Files.writeString(etc.resolve("hostname"), "sandbox\n");
            Files.writeString(etc.resolve("nsswitch.conf"), "passwd: files\ngroup: files\nhosts: files\n");
            for (String entry : presentEtcBinds()) {
                Path target = etc.resolve(entry);
                if (Files.isDirectory(Path.of("/etc", entry))) {
                    Files.createDirectories(target);
                } else if (!Files.exists(target)) {
                    Files.createFile(target);
                }
            }
            Path mountPoint = root.resolve(DRIVER_IN_SANDBOX.substring(1));
            if (!Files.exists(mountPoint)) {
                Files.createFile(mountPoint);
            }
            try (InputStream driver = RootFs.class.getClassLoader().getResourceAsStream(DRIVER_RESOURCE)) {
                if (driver == null) {
                    throw new IllegalStateException("kernel driver missing from the application: " + DRIVER_RESOURCE);
                }
                Path tmp = Files.createTempFile(layout.runtime(), "driver", ".py");
                Files.write(tmp, driver.readAllBytes());
                // createTempFile makes it 0600; the sandbox user must read it.
                Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-r--r--"));
                Files.move(tmp, layout.driver(), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare the sandbox root filesystem: " + e.getMessage(), e);
        }
    }

    /** The {@link #ETC_BINDS} this host has. */
    public List<String> presentEtcBinds() {
        return ETC_BINDS.stream().filter(e -> Files.exists(Path.of("/etc", e))).toList();
    }

    public Path root() {
        return layout.rootfs();
    }

    public Path driver() {
        return layout.driver();
    }
}
