package dev.zerodrop.api;

import dev.zerodrop.core.AttemptStatus;
import dev.zerodrop.core.DeliveryState;

import com.fasterxml.jackson.annotation.JsonRawValue;
import dev.zerodrop.store.AppStore;
import dev.zerodrop.store.AttemptStore;
import dev.zerodrop.store.EndpointStore;
import dev.zerodrop.store.EventTypeStore;
import dev.zerodrop.store.MessageStore;
import dev.zerodrop.store.Page;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/** Response bodies, with Svix's field names. */
final class Views {
    private Views() {}

    record ListResponse<T>(List<T> data, String iterator, String prevIterator, boolean done) {
        static <S, T> ListResponse<T> of(Page<S> page, java.util.function.Function<S, T> f) {
            return new ListResponse<>(page.data().stream().map(f).toList(), page.iterator(), page.prevIterator(), page.done());
        }
    }

    record ErrorOut(String code, String detail) {}

    record ValidationOut(String code, List<ApiException.FieldError> detail) {}

    record AppOut(String id, String uid, String name, Integer throttleRate, Integer rateLimit, Map<String, String> metadata,
                  Instant createdAt, Instant updatedAt) {
        static AppOut of(AppStore.App a) {
            return new AppOut(a.id(), a.uid(), a.name(), a.throttleRate(), a.throttleRate(), a.metadata(), a.createdAt(), a.updatedAt());
        }
    }

    record EndpointOut(String id, String uid, String url, String description, List<String> filterTypes,
                       List<String> eventTypes, List<String> channels, boolean disabled, Integer throttleRate,
                       Integer rateLimit, Map<String, String> metadata, int version, Instant createdAt, Instant updatedAt) {
        static EndpointOut of(EndpointStore.Endpoint e) {
            return new EndpointOut(e.id(), e.uid(), e.url(), e.description(), e.filterTypes(), e.filterTypes(), e.channels(),
                    e.disabled(), e.throttleRate(), e.throttleRate(), e.metadata(), 1, e.createdAt(), e.updatedAt());
        }
    }

    record SecretOut(String key) {}

    record HeadersOut(Map<String, String> headers, List<String> sensitive) {}

    record MessageOut(String id, String eventType, String eventId, List<String> channels,
                      @JsonRawValue String payload, Instant timestamp, List<String> tags) {
        static MessageOut of(MessageStore.Message m, boolean withContent) {
            return new MessageOut(m.id(), m.eventType(), m.eventId(), m.channels(), payloadText(m.payload(), withContent), m.createdAt(),
                    m.tags());
        }
    }

    static String payloadText(byte[] payload, boolean withContent) {
        if (!withContent || payload == null) return "{}";
        return new String(payload, StandardCharsets.UTF_8);
    }

    /** Svix's MessageStatus of a delivery in {@code state}. */
    static AttemptStatus statusOf(String state) {
        return AttemptStatus.of(DeliveryState.of(state));
    }

    record AttemptOut(String id, String msgId, String endpointId, String url, String response, int responseStatusCode,
                      long responseDurationMs, int status, String statusText, int triggerType, Instant timestamp,
                      int attemptNumber, String errorClass) {
        static AttemptOut of(dev.zerodrop.store.Attempt a) {
            return of(a, true);
        }

        /** Without content the response body reads {@code {}}, as Svix answers. */
        static AttemptOut of(dev.zerodrop.store.Attempt a, boolean withContent) {
            return new AttemptOut(a.id(), a.msgId(), a.endpointId(), a.url(), withContent ? a.response() : "{}", a.responseStatus(),
                    a.durationMs(), a.status().code(), a.status().text(), a.trigger().code(), a.createdAt(), a.attemptNo(), a.errorClass());
        }
    }

    record EndpointMessageOut(String id, String eventType, String eventId, List<String> channels, @JsonRawValue String payload,
                              Instant timestamp, List<String> tags, int status, String statusText, Instant nextAttempt, String state) {
        static EndpointMessageOut of(MessageStore.MessageWithStatus m, boolean withContent) {
            AttemptStatus s = statusOf(m.status().state());
            return new EndpointMessageOut(m.message().id(), m.message().eventType(), m.message().eventId(), m.message().channels(),
                    payloadText(m.message().payload(), withContent), m.message().createdAt(), m.message().tags(), s.code(), s.text(),
                    m.status().nextAttemptAt(), m.status().state());
        }
    }

    record MessageEndpointOut(String id, String uid, String url, String description, List<String> filterTypes,
                              List<String> eventTypes, List<String> channels, boolean disabled, Integer throttleRate,
                              Integer rateLimit, int version, Instant createdAt, Instant updatedAt, int status, String statusText,
                              Instant nextAttempt, String state) {
        static MessageEndpointOut of(MessageStore.EndpointWithStatus x) {
            var e = x.endpoint();
            AttemptStatus s = statusOf(x.status().state());
            return new MessageEndpointOut(e.id(), e.uid(), e.url(), e.description(), e.filterTypes(), e.filterTypes(), e.channels(), e.disabled(),
                    e.throttleRate(), e.throttleRate(), 1, e.createdAt(), e.updatedAt(), s.code(), s.text(), x.status().nextAttemptAt(),
                    x.status().state());
        }
    }

    /** {@code featureFlag} is Svix's deprecated single form of {@code featureFlags}: their first. */
    record EventTypeOut(String name, String description, boolean archived, boolean deprecated, List<String> featureFlags,
                        String featureFlag, String groupName, @JsonRawValue String schemas, Instant createdAt,
                        Instant updatedAt) {
        static EventTypeOut of(EventTypeStore.EventType t) {
            return of(t, true);
        }

        static EventTypeOut of(EventTypeStore.EventType t, boolean withContent) {
            List<String> flags = t.featureFlags();
            return new EventTypeOut(t.name(), t.description(), t.archived(), t.deprecated(), flags,
                    flags == null || flags.isEmpty() ? null : flags.getFirst(), t.groupName(), withContent ? t.schemasJson() : null,
                    t.createdAt(), t.updatedAt());
        }
    }

    record StatsOut(long success, long pending, long sending, long fail, long canceled) {}
}
