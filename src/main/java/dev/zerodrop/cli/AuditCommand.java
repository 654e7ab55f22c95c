package dev.zerodrop.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code zerodrop audit}: the zero-drop audit of a running server. */
@Command(name = "audit", mixinStandardHelpOptions = true,
        description = {"Show the zero-drop audit: accepted deliveries against every state, 'unaccounted' (must be 0),",
                "stuck leases, repeated lost leases and the oldest pending age. --json prints one JSON object."})
final class AuditCommand extends ClientCommand {
    @Option(names = "--app", paramLabel = "<app>", description = "Only this application (id or uid).")
    String app;

    @Option(names = "--recount", description = "Recount the delivery rows first (a full scan of the table).")
    boolean recount;

    @Override
    JsonNode execute(ApiClient api) {
        if (recount) api.post("/api/v1/audit/recount", Map.of());
        Map<String, String> q = new LinkedHashMap<>();
        if (app != null) q.put("app_id", app);
        return api.get("/api/v1/audit", q);
    }

    @Override
    void print(JsonNode r, PrintWriter out) {
        boolean ok = r.path("unaccounted").asLong() == 0 && r.path("stuckLeases").asLong() == 0
                && r.path("repeatedLostLeases").asLong() == 0;
        out.printf("%s accepted=%d unaccounted=%d stuck-leases=%d repeated-lost-leases=%d oldest-pending=%ds recounted=%s%n",
                ok ? "OK" : "ATTENTION", r.path("accepted").asLong(), r.path("unaccounted").asLong(), r.path("stuckLeases").asLong(),
                r.path("repeatedLostLeases").asLong(),
                r.path("oldestPendingAgeSeconds").asLong(), text(r.path("recountedAt")) == null ? "never" : time(r.path("recountedAt")));
        Table t = new Table("SCOPE", "ACCEPTED", "PENDING", "SENDING", "DELIVERED", "DEAD", "DISCARDED", "HELD", "RETIRED", "UNACCOUNTED", "STUCK", "LOST-LEASES");
        row(t, "all", r);
        for (JsonNode a : r.path("applications")) {
            row(t, a.path("appId").asText(), a);
            for (JsonNode e : a.path("endpoints")) row(t, "  " + e.path("endpointId").asText(), e);
        }
        t.print(out);
    }

    private static void row(Table t, String scope, JsonNode n) {
        t.row(scope, n.path("accepted").asLong(), n.path("pending").asLong(), n.path("sending").asLong(), n.path("delivered").asLong(),
                n.path("dead").asLong(), n.path("discarded").asLong(), n.path("held").asLong(), n.path("retired").asLong(),
                n.path("unaccounted").asLong(),
                n.path("stuckLeases").asLong(), n.path("repeatedLostLeases").asLong());
    }
}
