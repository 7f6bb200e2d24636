-- One finding per problem, not per run (issue 15, part 6).
--
-- A condition that repeats (a collection that keeps failing for the same reason, a key that keeps getting
-- EAPI:Invalid nonce) is one finding whose last_seen moves and whose occurrence count grows, instead of a new
-- finding every night. Rules that check a state (`-- resolves: when_absent` in sql/rules) also have their findings
-- resolved by the analyser when the condition no longer holds; that is recorded in audit.finding_events with
-- changed_by = 'analyser', like a reopening.

-- How many times the condition behind the finding occurred: the rule's own count when it returns an
-- `occurrences` column (stale_collection: failed collection runs with this cause since the last successful one),
-- otherwise 1 on creation plus 1 each time the rule reports it with a later occurred_at (new evidence, not a
-- re-analysis of the same rows). Existing findings start from their detections.
ALTER TABLE audit.findings ADD COLUMN occurrences integer NOT NULL DEFAULT 1 CHECK (occurrences >= 0);
UPDATE audit.findings SET occurrences = detections WHERE occurrences <> detections;
COMMENT ON COLUMN audit.findings.occurrences IS
    'How many times the condition occurred (e.g. failed collection runs with the same cause since the last success); detections counts analysis runs instead.';
COMMENT ON COLUMN audit.findings.detections IS
    'How many analysis runs reported the finding (1 on creation), including re-analyses of the same rows.';

-- The analyst views get the column at the end (CREATE OR REPLACE VIEW may only append columns), so queries
-- written against the old column list keep working.
CREATE OR REPLACE VIEW kraken.findings AS
SELECT f.id AS finding_id, f.rule_id, f.severity,
       CASE f.severity WHEN 'info' THEN 0 WHEN 'low' THEN 1 WHEN 'medium' THEN 2 WHEN 'high' THEN 3
                       WHEN 'critical' THEN 4 END AS severity_rank,
       f.status, f.account_id, a.name AS account, f.entity_type, f.entity_id, f.title, f.evidence,
       coalesce(f.occurred_at, f.first_seen) AS occurred_at,
       f.first_seen, f.last_seen, f.detections, f.api_call_ids,
       f.status_note, f.status_changed_at, f.status_changed_by,
       f.occurrences
  FROM audit.findings f
  LEFT JOIN audit.accounts a ON a.id = f.account_id;
COMMENT ON COLUMN kraken.findings.detections IS 'How many analysis runs reported it (re-analyses included); see occurrences for how often the problem itself occurred.';
COMMENT ON COLUMN kraken.findings.last_seen IS 'When the analyser last reported it (moves while a repeating problem persists).';
COMMENT ON COLUMN kraken.findings.status_changed_by IS 'Who changed the status last; analyser when it reopened the finding or resolved it automatically (the condition no longer holds).';
COMMENT ON COLUMN kraken.findings.occurrences IS 'How many times the problem occurred, e.g. failed collection runs with the same cause since the last successful one (one finding per problem, not per run).';

CREATE OR REPLACE VIEW kraken.findings_open AS
SELECT * FROM kraken.findings WHERE status IN ('open', 'acknowledged');
COMMENT ON COLUMN kraken.findings_open.detections IS 'How many analysis runs reported it (re-analyses included).';
COMMENT ON COLUMN kraken.findings_open.last_seen IS 'When the analyser last reported it (moves while a repeating problem persists).';
COMMENT ON COLUMN kraken.findings_open.occurrences IS 'How many times the problem occurred, e.g. failed collection runs with the same cause since the last successful one.';
