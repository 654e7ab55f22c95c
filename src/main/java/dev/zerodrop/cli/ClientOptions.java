package dev.zerodrop.cli;

import picocli.CommandLine.Option;

/**
 * The options every client command shares (mix it in with {@code @Mixin}): where the server is, the
 * API token, and whether to print raw JSON.
 */
public final class ClientOptions {
    static final String DEFAULT_URL = "http://127.0.0.1:8071";

    @Option(names = "--url", paramLabel = "<url>", defaultValue = "${env:ZERODROP_URL:-" + DEFAULT_URL + "}",
            description = "Base URL of the ZeroDrop server. Env: ZERODROP_URL. Default: " + DEFAULT_URL + ".")
    String url;

    @Option(names = "--token", paramLabel = "<token>", defaultValue = "${env:ZERODROP_TOKEN}",
            description = "API bearer token. Env: ZERODROP_TOKEN.")
    String token;

    @Option(names = "--json", description = "Print the server's JSON instead of a table.")
    boolean json;

    /** A client for the configured server. Throws {@link ApiClient.Failure} when no token is set. */
    ApiClient client() {
        if (token == null || token.isBlank()) {
            throw new ApiClient.Failure(2, "no API token: pass --token or set ZERODROP_TOKEN");
        }
        return new ApiClient(url, token.trim());
    }
}
