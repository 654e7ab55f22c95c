package dev.zerodrop.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zerodrop.core.Json;
import java.io.PrintWriter;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;
import java.util.concurrent.Callable;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * A command that calls the API of a running server: it finds the server through {@link ClientOptions},
 * prints the answer as a table (or the JSON with {@code --json}), and turns a failure into one line
 * on stderr and an exit code (1: the server refused or could not be reached; 2: a usage error).
 */
abstract class ClientCommand implements Callable<Integer> {
    @Mixin
    ClientOptions client;

    @Spec
    CommandSpec spec;

    @Override
    public final Integer call() {
        try {
            JsonNode result = execute(client.client());
            PrintWriter out = spec.commandLine().getOut();
            if (client.json) out.println(Json.write(result));
            else print(result, out);
            out.flush();
            return 0;
        } catch (ApiClient.Failure f) {
            PrintWriter err = spec.commandLine().getErr();
            err.println("zerodrop: " + f.getMessage());
            err.flush();
            return f.exitCode;
        }
    }

    /** Calls the API; the answer is printed by {@link #print} or as JSON. */
    abstract JsonNode execute(ApiClient api);

    abstract void print(JsonNode result, PrintWriter out);

    /** An API timestamp to the second, or null (printed as '-'). */
    static String time(JsonNode t) {
        if (t.isMissingNode() || t.isNull()) return null;
        try {
            return Instant.parse(t.asText()).truncatedTo(ChronoUnit.SECONDS).toString();
        } catch (DateTimeParseException e) {
            return t.asText();
        }
    }

    /** A text field, or null when it is missing, null or empty. */
    static String text(JsonNode t) {
        return t.isMissingNode() || t.isNull() || t.asText().isEmpty() ? null : t.asText();
    }
}
