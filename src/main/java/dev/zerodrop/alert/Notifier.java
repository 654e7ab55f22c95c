package dev.zerodrop.alert;

import dev.zerodrop.core.Ids;
import dev.zerodrop.core.Json;
import dev.zerodrop.delivery.Signer;
import dev.zerodrop.store.AppStore;
import dev.zerodrop.store.EndpointStore;
import dev.zerodrop.store.MessageStore;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends ZeroDrop's own notifications (alerts to a Slack-compatible webhook, operational webhooks)
 * through ZeroDrop itself: each is a message of an internal application whose one endpoint is the
 * configured URL. They are therefore durable, signed, retried and logged like every other webhook,
 * and a deterministic eventId makes every notification idempotent.
 */
public final class Notifier {
    private static final Logger log = LoggerFactory.getLogger(Notifier.class);
    static final String ALERTS_APP = "zerodrop-alerts";
    static final String OPERATIONAL_APP = "zerodrop-operational";

    /** An internal application and its endpoint, or absent when its URL is not configured. */
    record Channel(String appId, String endpointId) {}

    private final MessageStore messages;
    private final Runnable wake;
    private final Optional<Channel> alerts;
    private final Optional<Channel> operational;

    Notifier(MessageStore messages, Runnable wake, Optional<Channel> alerts, Optional<Channel> operational) {
        this.messages = messages;
        this.wake = wake;
        this.alerts = alerts;
        this.operational = operational;
    }

    /**
     * Creates (or updates) the internal applications for the configured URLs. When no operational
     * secret is configured, one is generated on first use and printed once.
     */
    public static Notifier create(AppStore apps, EndpointStore endpoints, MessageStore messages, Runnable wake,
                                  Optional<String> alertUrl, Optional<String> operationalUrl, Optional<String> operationalSecret,
                                  PrintStream console, Instant now) {
        Optional<Channel> alerts = channel(apps, endpoints, ALERTS_APP, "ZeroDrop alerts", alertUrl, Optional.empty(), null, now);
        Optional<Channel> operational = channel(apps, endpoints, OPERATIONAL_APP, "ZeroDrop operational webhooks", operationalUrl,
                operationalSecret, console, now);
        return new Notifier(messages, wake, alerts, operational);
    }

    private static Optional<Channel> channel(AppStore apps, EndpointStore endpoints, String uid, String name, Optional<String> url,
                                             Optional<String> secret, PrintStream console, Instant now) {
        Optional<AppStore.App> app = apps.find(uid);
        if (url.isEmpty()) {
            // Not configured (any more): its endpoint goes, so nothing is sent.
            app.flatMap(a -> endpoints.find(a.id(), "webhook")).ifPresent(e -> endpoints.delete(e.id(), now));
            return Optional.empty();
        }
        AppStore.App a = app.orElseGet(() -> apps.create(new AppStore.AppData(uid, name, null, Map.of()), now));
        var data = new EndpointStore.EndpointData("webhook", url.get(), name, null, null, false, null, Map.of());
        Optional<EndpointStore.Endpoint> existing = endpoints.find(a.id(), "webhook");
        EndpointStore.Endpoint e;
        if (existing.isEmpty()) {
            String s = secret.map(Signer::normalise).orElseGet(Signer::newSecret);
            e = endpoints.create(a.id(), data, s, now);
            if (secret.isEmpty() && console != null) {
                console.printf("%nZeroDrop generated the secret that signs operational webhooks to %s:%n%n    %s%n%n"
                        + "Set ZERODROP_OPERATIONAL_WEBHOOK_SECRET to choose your own.%n%n", url.get(), s);
                console.flush();
            }
        } else {
            e = existing.get();
            if (!e.url().equals(url.get()) || e.disabled()) endpoints.update(e, data, now);
            if (secret.isPresent() && !Signer.normalise(secret.get()).equals(e.secret())) {
                endpoints.rotateSecret(e, Signer.normalise(secret.get()), java.time.Duration.ZERO, now);
            }
        }
        return Optional.of(new Channel(a.id(), e.id()));
    }

    boolean hasOperational() {
        return operational.isPresent();
    }

    /** Sends an alert notification to the alert webhook (Slack-compatible) and the operational webhook. */
    void alert(String eventType, String eventId, Map<String, Object> payload, Instant now) {
        alerts.ifPresent(ch -> send(ch, eventType, eventId, payload, now));
        operational.ifPresent(ch -> send(ch, "zerodrop." + eventType, eventId, payload, now));
    }

    /** Sends an operational webhook ({@code message.attempt.exhausted}, {@code endpoint.disabled}...). */
    void operational(String eventType, String eventId, Map<String, Object> data, Instant now) {
        operational.ifPresent(ch -> send(ch, eventType, eventId,
                Map.of("type", eventType, "timestamp", now.toString(), "data", data), now));
    }

    private void send(Channel ch, String eventType, String eventId, Map<String, Object> payload, Instant now) {
        byte[] body = Json.write(payload).getBytes(StandardCharsets.UTF_8);
        var m = new MessageStore.NewMessage(Ids.message(now), ch.appId(), eventType, eventId, null, body, now, null);
        try {
            if (messages.createAll(List.of(new MessageStore.Submission(m, null))).getFirst() instanceof MessageStore.Created.Stored) {
                wake.run();
            }
        } catch (RuntimeException e) {
            log.warn("could not queue the {} notification {}: {}", eventType, eventId, e.getMessage());
        }
    }
}
