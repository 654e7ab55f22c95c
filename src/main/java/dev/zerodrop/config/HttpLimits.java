package dev.zerodrop.config;

import java.time.Duration;

/**
 * What the API accepts from one client: request sizes, how slowly a request may arrive, how many
 * connections a client and the node may hold, and how fast one token may call.
 *
 * @param keyRateLimit requests per second per token; 0 is no limit
 */
public record HttpLimits(int maxBody, int maxHeaderSize, Duration headerTimeout, Duration idleTimeout, int maxConnections,
                         int maxConnectionsPerClient, int keyRateLimit) {
}
