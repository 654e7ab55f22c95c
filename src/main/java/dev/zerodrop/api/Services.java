package dev.zerodrop.api;

import dev.zerodrop.delivery.AddressGuard;
import dev.zerodrop.store.AppStore;
import dev.zerodrop.store.AttemptStore;
import dev.zerodrop.store.DeliveryStore;
import dev.zerodrop.store.EndpointStore;
import dev.zerodrop.store.EventTypeStore;
import dev.zerodrop.store.MessageStore;
import java.time.InstantSource;

/** What the route handlers need. {@code wake} tells the local dispatcher that work is due. */
public record Services(AppStore apps, EndpointStore endpoints, MessageStore messages, DeliveryStore deliveries,
                       AttemptStore attempts, EventTypeStore eventTypes, AddressGuard guard, Runnable wake,
                       InstantSource clock, dev.zerodrop.ingest.GroupCommit ingest,
                       dev.zerodrop.dlq.DeadLetterQueue dlq) {}
