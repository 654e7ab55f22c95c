-- Lost leases in a row. A lost lease says nothing about the receiver, so the first few in a row do
-- not use up the retry budget; beyond that they do, and a delivery whose sending keeps killing its
-- node ends dead (reason 'lost-lease') instead of looping forever. Any recorded answer resets it.
ALTER TABLE delivery ADD COLUMN lost_leases smallint NOT NULL DEFAULT 0;

-- The audit lists deliveries that lost their lease twice or more in a row: a tiny partial index.
CREATE INDEX delivery_lost_leases ON delivery (app_id, endpoint_id) WHERE lost_leases >= 2;

-- attempt.error_class gains 'protocol', 'too-large' and 'internal' (an unexpected error of ZeroDrop's own).

ALTER TABLE alert_rule DROP CONSTRAINT alert_rule_kind_check;
ALTER TABLE alert_rule ADD CONSTRAINT alert_rule_kind_check CHECK (kind IN ('delivery.dead', 'dlq.depth', 'endpoint.failure_rate',
    'endpoint.disabled', 'message.failing', 'audit.unaccounted', 'audit.stuck_leases', 'slo.burn', 'audit.lost_leases'));
