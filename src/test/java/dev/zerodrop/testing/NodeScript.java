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
 * Runs a script of src/test/node (the official Svix SDKs, pinned in its package.json) with Node.js,
 * after {@link NodePackages#ensureInstalled()}. The scripts print their verdict as one JSON line last.
 */
public final class NodeScript {
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

    /** Runs {@code script} with the {@code node} on the PATH. */
    public static Run run(String script, Map<String, String> env, Duration timeout) throws IOException, InterruptedException {
        return run(NodePackages.executable("node"), script, env, timeout);
    }

    /** Runs {@code script} with the given Node.js binary. */
    public static Run run(Path node, String script, Map<String, String> env, Duration timeout) throws IOException, InterruptedException {
        NodePackages.ensureInstalled();
        assertThat(NodePackages.DIR.resolve(script)).exists();
        Path out = Files.createTempFile("zd-node-", ".out");
        Path err = Files.createTempFile("zd-node-", ".err");
        List<String> command = List.of(node.toString(), script);
        try {
            ProcessBuilder pb = new ProcessBuilder(command).directory(NodePackages.DIR.toFile())
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
}
