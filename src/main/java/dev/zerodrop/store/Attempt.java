package dev.zerodrop.store;

import dev.zerodrop.core.AttemptStatus;
import dev.zerodrop.core.TriggerType;
import java.time.Instant;

/**
 * One attempt row: every attempt to deliver, whatever it ended in. {@code errorClass} is an error
 * class label ({@code http}, {@code timeout}, ..., {@code lost-lease}, {@code internal}), or null on
 * success; {@code responseStatus} is the receiver's status as it gave it, or 0 when none was read.
 */
public record Attempt(String id, long deliveryId, String msgId, String endpointId, String appId, int attemptNo,
                      TriggerType trigger, AttemptStatus status, String errorClass, int responseStatus, String response,
                      int durationMs, String url, Instant createdAt) {}
