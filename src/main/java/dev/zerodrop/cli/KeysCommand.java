package dev.zerodrop.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.zerodrop.config.Durations;
import dev.zerodrop.core.Json;
import java.io.PrintWriter;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code zerodrop keys}: the API keys of a running server, through its API (an admin token is needed). */
@Command(name = "keys", mixinStandardHelpOptions = true,
        description = {"API keys: bearer tokens that are server-wide (admin) or confined to one application, read-write or",
                "read-only, optionally expiring. A key's token is shown once, when it is made; the server keeps only a hash",
                "and its first characters (the prefix). Finds the server through --url (ZERODROP_URL) and --token (ZERODROP_TOKEN)."},
        footer = {"", "Examples:",
                "  zerodrop keys create --name ci-deploy --admin",
                "  zerodrop keys create --name shop-team --app shop --read-only --expires 90d",
                "  zerodrop keys list --app shop",
                "  zerodrop keys revoke tok_2aBcD..."},
        subcommands = {KeysCommand.CreateCommand.class, KeysCommand.ListCommand.class, KeysCommand.GetCommand.class,
                KeysCommand.RevokeCommand.class})
final class KeysCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** Exactly one scope. */
    static final class Scope {
        @Option(names = "--admin", required = true, description = "Server-wide: every route.")
        boolean admin;

        @Option(names = "--app", required = true, paramLabel = "<app>", description = "Only this application (id or uid) and its resources.")
        String app;
    }

    @Command(name = "create", mixinStandardHelpOptions = true, description = "Make a key and print its token, this once.",
            footer = {"", "Example:", "  zerodrop keys create --name shop-team --app shop --read-only --expires 90d"})
    static final class CreateCommand extends ClientCommand {
        @Option(names = "--name", required = true, paramLabel = "<name>", description = "What the key is for (shown in the list).")
        String name;

        @ArgGroup(exclusive = true, multiplicity = "1")
        Scope scope;

        @Option(names = "--read-only", description = "It may only read (GET and HEAD).")
        boolean readOnly;

        @Option(names = "--expires", paramLabel = "<time>",
                description = "When it stops working: an RFC 3339 time (2027-01-31T00:00:00Z) or a duration from now (90d). Default: never.")
        String expires;

        @Override
        JsonNode execute(ApiClient api) {
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("name", name);
            body.put("scope", scope.admin ? "admin" : "application");
            if (!scope.admin) body.put("appId", scope.app);
            body.put("readOnly", readOnly);
            if (expires != null) body.put("expiresAt", future(expires, Instant.now()));
            return api.post("/api/v1/keys", body);
        }

        @Override
        void print(JsonNode k, PrintWriter out) {
            out.println("Made key " + k.path("id").asText() + " (" + scope(k) + ", " + access(k) + ", expires "
                    + (time(k.path("expiresAt")) == null ? "never" : time(k.path("expiresAt"))) + "). Its token is shown this once:");
            out.println();
            out.println("    " + k.path("token").asText());
            out.println();
            out.println("Use it as 'Authorization: Bearer <token>', or as ZERODROP_TOKEN for these commands.");
        }

        /** An RFC 3339 time as given, or a duration after now. */
        static String future(String text, Instant now) {
            try {
                return OffsetDateTime.parse(text).toInstant().toString();
            } catch (DateTimeParseException e) {
                try {
                    return now.plus(Durations.parse(text)).truncatedTo(ChronoUnit.SECONDS).toString();
                } catch (IllegalArgumentException e2) {
                    throw new ApiClient.Failure(2, "--expires: '" + text + "' is neither an RFC 3339 time nor a duration such as 90d");
                }
            }
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List the keys (or the app-portal tokens), oldest first.",
            footer = {"", "Example:", "  zerodrop keys list --app shop --revoked"})
    static final class ListCommand extends ClientCommand {
        @Option(names = "--app", paramLabel = "<app>", description = "Only the keys of this application (id or uid).")
        String app;

        @Option(names = "--portal", description = "The app-portal tokens instead of the keys.")
        boolean portal;

        @Option(names = "--revoked", description = "Include revoked ones.")
        boolean revoked;

        @Option(names = "--limit", defaultValue = "50", description = "Most keys to show, 1-250 (default: ${DEFAULT-VALUE}).")
        int limit;

        @Option(names = "--iterator", paramLabel = "<id>", description = "Continue after this key (the iterator of the previous page).")
        String iterator;

        @Override
        JsonNode execute(ApiClient api) {
            Map<String, String> q = new LinkedHashMap<>();
            q.put("kind", portal ? "portal" : "key");
            q.put("app_id", app);
            if (revoked) q.put("include_revoked", "true");
            q.put("limit", Integer.toString(limit));
            q.put("iterator", iterator);
            return api.get("/api/v1/keys", q);
        }

        @Override
        void print(JsonNode page, PrintWriter out) {
            Table t = new Table("ID", "NAME", "PREFIX", "SCOPE", "ACCESS", "CREATED", "EXPIRES", "LAST USED", "REVOKED");
            for (JsonNode k : page.path("data")) {
                t.row(k.path("id").asText(), k.path("name").asText(), text(k.path("prefix")), scope(k), access(k), time(k.path("createdAt")),
                        time(k.path("expiresAt")), time(k.path("lastUsedAt")), time(k.path("revokedAt")));
            }
            if (t.isEmpty()) out.println(portal ? "No app-portal tokens." : "No keys.");
            else t.print(out);
            if (!page.path("done").asBoolean(true)) out.println("More: --iterator " + page.path("iterator").asText());
        }
    }

    @Command(name = "get", mixinStandardHelpOptions = true, description = "Show one key (never its token).",
            footer = {"", "Example:", "  zerodrop keys get tok_2aBcD..."})
    static final class GetCommand extends ClientCommand {
        @Parameters(paramLabel = "<id>", description = "Key id, such as tok_2aBcD...")
        String id;

        @Override
        JsonNode execute(ApiClient api) {
            return api.get("/api/v1/keys/" + DlqCommand.encode(id), Map.of());
        }

        @Override
        void print(JsonNode k, PrintWriter out) {
            new Table("FIELD", "VALUE").row("id", k.path("id").asText()).row("name", k.path("name").asText())
                    .row("kind", k.path("kind").asText()).row("prefix", text(k.path("prefix"))).row("scope", scope(k)).row("access", access(k))
                    .row("created", time(k.path("createdAt"))).row("expires", time(k.path("expiresAt")))
                    .row("last used", time(k.path("lastUsedAt"))).row("revoked", time(k.path("revokedAt"))).print(out);
        }
    }

    @Command(name = "revoke", mixinStandardHelpOptions = true,
            description = {"Revoke keys: they stop working at once on the node that is asked, and within 10 s on the others."},
            footer = {"", "Example:", "  zerodrop keys revoke tok_2aBcD... tok_2aBcE..."})
    static final class RevokeCommand extends ClientCommand {
        @Parameters(paramLabel = "<id>", arity = "1..*", description = "Key ids.")
        List<String> ids = new ArrayList<>();

        @Override
        JsonNode execute(ApiClient api) {
            ObjectNode out = Json.MAPPER.createObjectNode();
            var revoked = out.putArray("revoked");
            for (String id : ids) {
                api.delete("/api/v1/keys/" + DlqCommand.encode(id));
                revoked.add(id);
            }
            return out;
        }

        @Override
        void print(JsonNode r, PrintWriter out) {
            for (JsonNode id : r.path("revoked")) out.println("Revoked " + id.asText() + ".");
        }
    }

    /** admin, or the application a key is confined to. */
    static String scope(JsonNode k) {
        return k.path("appId").isTextual() ? "app " + k.path("appId").asText() : "admin";
    }

    static String access(JsonNode k) {
        return k.path("readOnly").asBoolean() ? "read-only" : "read-write";
    }
}
