-- Each endpoint's oldest pending delivery, for the audit: one index probe per endpoint.
CREATE INDEX delivery_pending_endpoint ON delivery (endpoint_id, next_attempt_at) WHERE state = 'pending';
