package dev.zerodrop.testing;

import dev.zerodrop.chaos.Receiver;
import dev.zerodrop.core.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Verifies received webhooks with the npm {@code standardwebhooks} package, the reference verifier. */
public final class NodeVerifier {
    private static final Path DIR = NodePackages.DIR;

    private NodeVerifier() {}

    /** Returns one result per request: "ok" or "fail ...". */
    public static List<String> verify(String secret, List<Receiver.Request> requests) throws IOException, InterruptedException {
        NodePackages.ensureInstalled();
        StringBuilder in = new StringBuilder();
        for (Receiver.Request r : requests) {
            in.append(Json.write(Map.of("secret", secret, "body", r.bodyText(), "headers", Map.of(
                    "webhook-id", r.header("webhook-id"), "webhook-timestamp", r.header("webhook-timestamp"),
                    "webhook-signature", r.header("webhook-signature"))))).append('\n');
        }
        Process p = new ProcessBuilder("node", "verify.mjs").directory(DIR.toFile()).redirectErrorStream(true).start();
        p.getOutputStream().write(in.toString().getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS)) throw new IOException("node verify timed out");
        List<String> lines = new ArrayList<>();
        for (String l : out.split("\n")) if (!l.isBlank()) lines.add(l.strip());
        return lines;
    }
}
