package dev.zerodrop.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code zerodrop slo}: every objective with its figures. */
@Command(name = "slo", mixinStandardHelpOptions = true,
        description = {"Show every service level objective: its current value, error budget, burn rates and alert state.",
                "--json prints the objectives as JSON."})
final class SloCommand extends ClientCommand {
    @Option(names = "--app", paramLabel = "<app>", description = "Only this application (id or uid).")
    String app;

    @Override
    JsonNode execute(ApiClient api) {
        Map<String, String> q = new LinkedHashMap<>();
        if (app != null) q.put("app_id", app);
        return api.get("/api/v1/slo", q);
    }

    @Override
    void print(JsonNode r, PrintWriter out) {
        Table t = new Table("APP", "INDICATOR", "TARGET", "BOUND", "VALUE", "EVENTS", "BUDGET LEFT", "BURN 1h", "BURN 6h", "BURN 3d", "ALERT");
        for (JsonNode e : r.path("data")) {
            JsonNode o = e.path("objective");
            JsonNode b = e.path("burnRates");
            t.row(e.path("appId").asText() + (o.path("endpointId").isNull() || o.path("endpointId").isMissingNode() ? "" : "/" + o.path("endpointId").asText()),
                    o.path("indicator").asText(), pct(o.path("target").asDouble()), o.path("latencySeconds").asInt() + "s",
                    pct(e.path("value").asDouble()), e.path("events").asLong(), pct(e.path("errorBudget").path("remainingFraction").asDouble()),
                    x(b.path("1h").asDouble()), x(b.path("6h").asDouble()), x(b.path("3d").asDouble()), e.path("alert").asText());
        }
        if (t.isEmpty()) out.println("no objective has events yet");
        else t.print(out);
    }

    private static String pct(double v) {
        return String.format(Locale.ROOT, "%.3f%%", 100 * v);
    }

    private static String x(double v) {
        return String.format(Locale.ROOT, "%.1fx", v);
    }
}
