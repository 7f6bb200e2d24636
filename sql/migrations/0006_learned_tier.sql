-- Pacing that corrects itself (issue 14, item 14; ../shared/kraken-api.md §5.1, §5.3).
-- A key's tier cannot be read from Kraken's API, so the configured tier (or rate_limit) may be wrong. When Kraken
-- answers `EAPI:Rate limit exceeded` although the collector paced by the configured counter, the collector steps
-- the key's assumed counter down (pro -> intermediate -> starter, never above what the config says) and keeps
-- what it learned here, next to the key's counter estimate, so later runs start slow instead of failing again.
--
-- The learned limit applies only while the config still says what it said when it was learned
-- (learned_config_max / learned_config_decay): a changed tier or rate_limit forgets it (the user fixed the
-- config, or upgraded the account). It is also forgotten 30 days after learned_at, so an account upgraded
-- on Kraken while the config already said so is probed again (costing at most a few rate-limit errors).
-- 0007 belongs to another change.

ALTER TABLE audit.api_keys
    ADD COLUMN learned_max double precision CHECK (learned_max > 0),
    ADD COLUMN learned_decay double precision CHECK (learned_decay > 0),
    -- How reports and doctor name it: "tier starter", or "max 10, decay 0.33/s" between tiers.
    ADD COLUMN learned_label text,
    ADD COLUMN learned_at timestamptz,
    -- Why: the error and the call that triggered the last step down.
    ADD COLUMN learned_reason text,
    -- The configured limit the learned one corrects, and how the config names it ("pro", "rate_limit max 30, decay 2/s").
    ADD COLUMN learned_config_max double precision,
    ADD COLUMN learned_config_decay double precision,
    ADD COLUMN learned_config_label text,
    ADD CONSTRAINT api_keys_learned_complete CHECK (
        (learned_max IS NULL AND learned_decay IS NULL AND learned_label IS NULL AND learned_at IS NULL
         AND learned_reason IS NULL AND learned_config_max IS NULL AND learned_config_decay IS NULL
         AND learned_config_label IS NULL)
        OR
        (learned_max IS NOT NULL AND learned_decay IS NOT NULL AND learned_label IS NOT NULL AND learned_at IS NOT NULL
         AND learned_reason IS NOT NULL AND learned_config_max IS NOT NULL AND learned_config_decay IS NOT NULL
         AND learned_config_label IS NOT NULL));

COMMENT ON COLUMN audit.api_keys.learned_max IS 'Counter max the key behaves like (learned from EAPI:Rate limit exceeded despite pacing); NULL = as configured.';
COMMENT ON COLUMN audit.api_keys.learned_decay IS 'Counter decay per second the key behaves like; NULL = as configured.';
COMMENT ON COLUMN audit.api_keys.learned_label IS 'The learned limit as reports name it, e.g. "tier starter".';
COMMENT ON COLUMN audit.api_keys.learned_at IS 'When the collector last lowered the key''s assumed counter; forgotten 30 days later.';
COMMENT ON COLUMN audit.api_keys.learned_reason IS 'The Kraken error and call that made the collector lower the assumed counter.';
COMMENT ON COLUMN audit.api_keys.learned_config_max IS 'Configured counter max when learned: a different config forgets the learned limit.';
COMMENT ON COLUMN audit.api_keys.learned_config_decay IS 'Configured decay when learned: a different config forgets the learned limit.';
COMMENT ON COLUMN audit.api_keys.learned_config_label IS 'The configured limit as the config names it, e.g. "pro".';
