package dev.zerodrop.alert;

import dev.zerodrop.core.Ids;
import dev.zerodrop.core.Json;
import dev.zerodrop.delivery.Signer;
import dev.zerodrop.store.AppStore;
import dev.zerodrop.store.EndpointStore;
import dev.zerodrop.store.MessageStore;
import dev.zerodrop.store.TaskStore;
import dev.zerodrop.core.OneTimeSecrets;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends ZeroDrop's own notifications (alerts to a Slack-compatible webhook, operational webhooks)
 * through ZeroDrop itself: each is a message of an internal application, delivered to that
 * application's endpoints. They are therefore durable, signed, retried and logged like every other
 * webhook, and a deterministic eventId makes every notification idempotent. The alert webhook is
 * the one endpoint of {@value #ALERTS_APP}, set by its URL; the operational webhook endpoints are
 * those of {@value #OPERATIONAL_APP}, managed through the API, each with its own secret and event
 * type filter, plus one kept from the environment's URL and secret.
 */
public final class Notifier {
    private static final Logger log = LoggerFactory.getLogger(Notifier.class);
    static final String ALERTS_APP = "zerodrop-alerts";
    static final String OPERATIONAL_APP = "zerodrop-operational";
    private static final String OPERATIONAL_NAME = "ZeroDrop operational webhooks";
    /** The uid of the operational endpoint that ZERODROP_OPERATIONAL_WEBHOOK_URL sets. */
    static final String BOOTSTRAP_UID = "webhook";

    /** An internal application and its endpoint, or absent when its URL is not configured. */
    record Channel(String appId, String endpointId) {}

    private final AppStore apps;
    private final EndpointStore endpoints;
    private final MessageStore messages;
    private final Runnable wake;
    private final Optional<Channel> alerts;
    private final java.util.concurrent.atomic.AtomicReference<String> operationalApp = new java.util.concurrent.atomic.AtomicReference<>();

    Notifier(AppStore apps, EndpointStore endpoints, MessageStore messages, Runnable wake, Optional<Channel> alerts) {
        this.apps = apps;
        this.endpoints = endpoints;
        this.messages = messages;
        this.wake = wake;
        this.alerts = alerts;
    }

    /**
     * Creates (or updates) the internal applications for the configured URLs. The operational URL
     * and secret set one operational endpoint at every start (uid {@value #BOOTSTRAP_UID}): its URL,
     * and its secret when one is configured; its other fields are the API's. When no secret is
     * configured, one is generated on first use and shown once ({@link OneTimeSecrets}). Without the URL, that endpoint is
     * deleted; the operational endpoints made through the API stay.
     */
    public static Notifier create(AppStore apps, EndpointStore endpoints, MessageStore messages, Runnable wake,
                                  Optional<String> alertUrl, Optional<String> operationalUrl, Optional<String> operationalSecret,
                                  OneTimeSecrets secrets, Instant now) {
        Optional<Channel> alerts = channel(apps, endpoints, ALERTS_APP, "ZeroDrop alerts", alertUrl, Optional.empty(), null, now);
        channel(apps, endpoints, OPERATIONAL_APP, OPERATIONAL_NAME, operationalUrl, operationalSecret, secrets, now);
        return new Notifier(apps, endpoints, messages, wake, alerts);
    }

    private static Optional<Channel> channel(AppStore apps, EndpointStore endpoints, String uid, String name, Optional<String> url,
                                             Optional<String> secret, OneTimeSecrets secrets, Instant now) {
        Optional<AppStore.App> app = apps.find(uid);
        if (url.isEmpty()) {
            // Not configured (any more): its endpoint goes, so nothing is sent.
            app.flatMap(a -> endpoints.find(a.id(), BOOTSTRAP_UID)).ifPresent(e -> endpoints.delete(e.id(), now));
            return Optional.empty();
        }
        AppStore.App a = app.orElseGet(() -> ensureApp(apps, uid, name, now));
        Optional<EndpointStore.Endpoint> existing = endpoints.find(a.id(), BOOTSTRAP_UID);
        EndpointStore.Endpoint e;
        if (existing.isEmpty()) {
            var data = new EndpointStore.EndpointData(BOOTSTRAP_UID, url.get(), name, null, null, false, null, Map.of());
            String s = secret.map(Signer::normalise).orElseGet(Signer::newSecret);
            e = endpoints.create(a.id(), data, s, now);
            if (secret.isEmpty() && secrets != null) {
                secrets.show("the generated operational-webhook secret", "operational-webhook-secret", s, """

                        ZeroDrop generated the secret that signs operational webhooks to %s:

                            %%s

                        Set ZERODROP_OPERATIONAL_WEBHOOK_SECRET to choose your own.
                        """.formatted(url.get()));
            }
        } else {
            e = existing.get();
            if (!e.url().equals(url.get())) {
                endpoints.update(e, new EndpointStore.EndpointData(e.uid(), url.get(), e.description(), e.filterTypes(), e.channels(),
                        e.disabled(), e.throttleRate(), e.metadata()), now);
            }
            if (secret.isPresent() && !Signer.normalise(secret.get()).equals(e.secret())) {
                endpoints.rotateSecret(e, Signer.normalise(secret.get()), java.time.Duration.ZERO, now);
            }
        }
        return Optional.of(new Channel(a.id(), e.id()));
    }

    /** The internal application, created when missing; two nodes starting at once may both try. */
    private static AppStore.App ensureApp(AppStore apps, String uid, String name, Instant now) {
        try {
            return apps.create(new AppStore.AppData(uid, name, null, Map.of()), now);
        } catch (dev.zerodrop.store.Conflict e) {
            return apps.find(uid).orElseThrow(() -> e);
        }
    }

    /** The id of the application whose endpoints are the operational webhook endpoints, if it exists yet. */
    public Optional<String> operationalApp() {
        String id = operationalApp.get();
        if (id != null) return Optional.of(id);
        Optional<AppStore.App> app = apps.find(OPERATIONAL_APP);
        app.ifPresent(a -> operationalApp.set(a.id()));
        return app.map(AppStore.App::id);
    }

    /** As {@link #operationalApp()}, creating the application when missing (for the first endpoint made through the API). */
    public String ensureOperationalApp(Instant now) {
        return operationalApp().orElseGet(() -> {
            String id = ensureApp(apps, OPERATIONAL_APP, OPERATIONAL_NAME, now).id();
            operationalApp.set(id);
            return id;
        });
    }

    /** Whether any operational endpoint exists; without one, no operational message is stored. */
    boolean hasOperational() {
        return operationalApp()
                .map(id -> !endpoints.list(id, new dev.zerodrop.store.PageRequest(1, null, false)).data().isEmpty())
                .orElse(false);
    }

    /** Sends an alert notification to the alert webhook (Slack-compatible) and the operational webhook endpoints. */
    void alert(String eventType, String eventId, Map<String, Object> payload, Instant now) {
        alerts.ifPresent(ch -> send(ch.appId(), eventType, eventId, payload, now));
        if (hasOperational()) send(operationalApp.get(), "zerodrop." + eventType, eventId, payload, now);
    }

    /**
     * Sends an operational webhook ({@code message.attempt.exhausted}, {@code endpoint.disabled}...)
     * to every operational endpoint whose event type filter takes it.
     */
    void operational(String eventType, String eventId, Map<String, Object> data, Instant now) {
        if (!hasOperational()) return;
        send(operationalApp.get(), eventType, eventId, Map.of("type", eventType, "timestamp", now.toString(), "data", data), now);
    }

    /** Svix's {@code background_task.finished}, sent when a background task finishes or fails. */
    public void backgroundTaskFinished(TaskStore.Task t) {
        Map<String, Object> data = new java.util.LinkedHashMap<>();
        try {
            data.put("data", Json.MAPPER.readTree(t.data()));
        } catch (java.io.IOException e) {
            data.put("data", Map.of());
        }
        data.put("status", t.status());
        data.put("task", t.task());
        data.put("taskId", t.id());
        operational("background_task.finished", "task." + t.id(), data, t.updatedAt());
    }

    private void send(String appId, String eventType, String eventId, Map<String, Object> payload, Instant now) {
        byte[] body = Json.write(payload).getBytes(StandardCharsets.UTF_8);
        var m = new MessageStore.NewMessage(Ids.message(now), appId, eventType, eventId, null, body, now, null);
        try {
            if (messages.createAll(List.of(new MessageStore.Submission(m, null))).getFirst() instanceof MessageStore.Created.Stored) {
                wake.run();
            }
        } catch (RuntimeException e) {
            log.warn("could not queue the {} notification {}: {}", eventType, eventId, e.getMessage());
        }
    }
}
