package dev.zerodrop.testing;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.concurrent.TimeUnit;

/**
 * The npm packages of src/test/node (both Svix SDK majors, standardwebhooks and the Node.js 22 that
 * svix@2 needs), installed with {@code npm ci} from the committed lock file when they are missing or
 * older than it. Needs only {@code node} and {@code npm} on the PATH.
 */
public final class NodePackages {
    /** src/test/node, from the module's base directory when Maven gives it. */
    public static final Path DIR = Path.of(System.getProperty("basedir", System.getProperty("user.dir")), "src", "test", "node")
            .toAbsolutePath();

    private NodePackages() {}

    /** Runs {@code npm ci} unless node_modules was installed from the current lock file. */
    public static synchronized void ensureInstalled() throws IOException, InterruptedException {
        // npm writes node_modules/.package-lock.json at every install; one older than the lock file is stale.
        Path installed = DIR.resolve("node_modules").resolve(".package-lock.json");
        Path lock = DIR.resolve("package-lock.json");
        if (Files.exists(installed) && !lastModified(installed).toInstant().isBefore(lastModified(lock).toInstant())
                && Files.isExecutable(node22())) {
            return;
        }
        Path log = Files.createTempFile("zd-npm-ci-", ".log");
        try {
            Process p = new ProcessBuilder(executable("npm").toString(), "ci", "--no-audit", "--no-fund").directory(DIR.toFile())
                    // Never the test JVM's own stdout: the test runner talks to Maven through it.
                    .redirectErrorStream(true).redirectOutput(log.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
            if (!p.waitFor(300, TimeUnit.SECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                throw new IOException("npm ci in " + DIR + " did not finish within 300 s");
            }
            if (p.exitValue() != 0) {
                throw new IOException("npm ci in " + DIR + " failed (exit " + p.exitValue() + "):\n" + Files.readString(log, StandardCharsets.UTF_8));
            }
        } finally {
            Files.deleteIfExists(log);
        }
    }

    /** The Node.js 22 binary of the {@code node22} package (svix@2 declares {@code engines: node >= 22}). */
    public static Path node22() {
        return DIR.resolve("node_modules").resolve("node22").resolve("bin").resolve("node");
    }

    private static FileTime lastModified(Path p) throws IOException {
        return Files.getLastModifiedTime(p);
    }

    /** The named program on the PATH. */
    public static Path executable(String name) throws IOException {
        String path = System.getenv().getOrDefault("PATH", "");
        for (String dir : path.split(File.pathSeparator)) {
            if (dir.isEmpty()) continue;
            Path candidate = Path.of(dir, name);
            if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) return candidate;
        }
        throw new IOException("'" + name + "' is not on the PATH (" + path + "); the SDK tests need Node.js 20+ and npm");
    }
}
