-- Fields the Svix API has and the first schema lacked.

-- MessageIn.tags (filtered on by the message and attempt lists), and how long the caller asked the
-- payload to be kept (payloadRetentionPeriod in days or payloadRetentionHours, stored in hours;
-- NULL: the default). Both nullable, so adding them rewrites nothing.
ALTER TABLE message ADD COLUMN tags text[];
ALTER TABLE message ADD COLUMN payload_retention_hours integer;

-- Event types carry a list of feature flags (the single featureFlag is Svix's deprecated form of
-- it) and a group name.
ALTER TABLE event_type ADD COLUMN feature_flags text[];
ALTER TABLE event_type ADD COLUMN group_name text;
UPDATE event_type SET feature_flags = ARRAY[feature_flag] WHERE feature_flag IS NOT NULL;
ALTER TABLE event_type DROP COLUMN feature_flag;
