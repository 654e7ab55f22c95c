package dev.zerodrop.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zerodrop.core.Json;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs a script of src/test/node (the official Svix SDK, pinned in its package.json) with Node.js,
 * installing the packages first when they are missing. Needs {@code node} and {@code npm} on the PATH.
 */
public final class NodeScript {
    private static final Duration NPM_TIMEOUT = Duration.ofSeconds(300);

    /** What a run printed, and how it exited. */
    public record Run(int exitCode, String stdout, String stderr) {
        /** The last line of stdout, where the scripts print their verdict as JSON. */
        public JsonNode verdict() throws IOException {
            return Json.MAPPER.readTree(stdout.strip().lines().reduce((a, b) -> b).orElse("{}"));
        }

        @Override
        public String toString() {
            return "exit " + exitCode + "\n--- stdout ---\n" + stdout + "\n--- stderr ---\n" + stderr;
        }
    }

    private NodeScript() {}

    public static Path dir() {
        return Path.of(System.getProperty("basedir", System.getProperty("user.dir")), "src", "test", "node").toAbsolutePath();
    }

    public static Run run(String script, Map<String, String> env, Duration timeout) throws IOException, InterruptedException {
        Path node = executable("node");
        assertThat(dir().resolve(script)).exists();
        if (!Files.isDirectory(dir().resolve("node_modules"))) {
            Run install = exec(List.of(executable("npm").toString(), "ci", "--no-audit", "--no-fund"), Map.of(), NPM_TIMEOUT);
            assertThat(install.exitCode()).as("npm ci in %s failed:\n%s", dir(), install).isZero();
        }
        return exec(List.of(node.toString(), script), env, timeout);
    }

    private static Run exec(List<String> command, Map<String, String> env, Duration timeout) throws IOException, InterruptedException {
        Path out = Files.createTempFile("zd-node-", ".out");
        Path err = Files.createTempFile("zd-node-", ".err");
        try {
            ProcessBuilder pb = new ProcessBuilder(command).directory(dir().toFile())
                    .redirectOutput(out.toFile()).redirectError(err.toFile()).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
            pb.environment().putAll(env);
            Process p = pb.start();
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
                fail("%s did not finish within %s and was killed.\n--- stdout ---\n%s\n--- stderr ---\n%s", command, timeout,
                        Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
            }
            return new Run(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    /** The named program on the PATH, or a clear failure. */
    private static Path executable(String name) {
        String path = System.getenv().getOrDefault("PATH", "");
        for (String dir : path.split(File.pathSeparator)) {
            if (dir.isEmpty()) continue;
            Path candidate = Path.of(dir, name);
            if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) return candidate;
        }
        return fail("'%s' is not on the PATH (%s); this test needs Node.js 18+ and npm to run the Svix JavaScript SDK", name, path);
    }
}
