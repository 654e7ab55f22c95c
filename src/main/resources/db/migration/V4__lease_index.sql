-- The lease index must not be a partial index on state = 'sending'. Its statistics are taken when
-- few deliveries are in flight; after a surge of claims the planner still believed it empty and
-- drove the fenced completion (WHERE ... AND state = 'sending') through it, scanning every leased
-- row once per completed one. Keyed on the lease itself, only the rescuer's lease_expires_at < now
-- scan can use it.
DROP INDEX delivery_lease;
CREATE INDEX delivery_lease ON delivery (lease_expires_at) WHERE lease_expires_at IS NOT NULL;
