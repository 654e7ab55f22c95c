package dev.zerodrop.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code zerodrop secrets}: the secrets at rest by sealing key, to follow a key rotation. */
@Command(name = "secrets", mixinStandardHelpOptions = true,
        description = {"Show the secrets at rest (endpoint secrets, header values, server secrets) by the key that sealed them:",
                "the current key, values in clear, values still to reseal and values this server cannot open.",
                "After a key rotation, the old key may go once it seals no value. --json prints one JSON object."})
final class SecretsCommand extends ClientCommand {
    @Option(names = "--reseal", description = "Seal again with the current key everything that needs it first (it also runs hourly).")
    boolean reseal;

    @Override
    JsonNode execute(ApiClient api) {
        return reseal ? api.post("/api/v1/secrets/reseal", Map.of()) : api.get("/api/v1/secrets", Map.of());
    }

    @Override
    void print(JsonNode r, PrintWriter out) {
        JsonNode s = r.has("status") ? r.path("status") : r;
        if (r.has("resealed")) {
            JsonNode x = r.path("resealed");
            out.printf("resealed %d values of %d endpoints and %d server secrets%s%n", x.path("values").asLong(), x.path("rows").asLong(),
                    x.path("serverSecrets").asLong(), x.path("raced").asLong() > 0
                            ? " (" + x.path("raced").asLong() + " endpoints changed meanwhile; the next run takes them)" : "");
        }
        long current = 0;
        for (JsonNode k : s.path("keys")) if (k.path("current").asBoolean()) current = k.path("values").asLong();
        boolean ok = s.path("toReseal").asLong() == 0 && s.path("unopenable").asLong() == 0;
        out.printf("%s current key %s: %d values sealed with it, %d in clear, %d to reseal, %d that do not open here%n",
                ok ? "OK" : "ATTENTION", s.path("currentKeyId").asText(), current, s.path("clear").asLong(), s.path("toReseal").asLong(),
                s.path("unopenable").asLong());
        Table t = new Table("KEY", "VALUES", "CURRENT", "LOADED");
        for (JsonNode k : s.path("keys")) {
            t.row(k.path("keyId").asText(), k.path("values").asLong(), k.path("current").asBoolean() ? "yes" : "no",
                    k.path("loaded").asBoolean() ? "yes" : "NO");
        }
        t.print(out);
    }
}
