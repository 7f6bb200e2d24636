-- Backfill through Kraken's data export (issue 10; ../shared/kraken-export-api.md).
-- 0004 belongs to another change.

-- One row per report requested with AddExport. The collector advances it at most one step per run
-- (requesting -> requested -> processed -> downloaded -> imported), or ends it as rejected / failed / expired;
-- a rejected or failed report is requested again with the same data window (the seam with paging stays put).
CREATE TABLE audit.exports (
    id                bigserial PRIMARY KEY,
    account_id        integer NOT NULL REFERENCES audit.accounts(id),
    report            text NOT NULL CHECK (report IN ('ledgers', 'trades')),
    -- Kraken's report id (four capitals); NULL while the AddExport answer has not been recorded yet.
    kraken_id         text,
    -- Our correlation key, sent as AddExport's description (finds the report again after a kill).
    descr             text NOT NULL UNIQUE,
    attempt           integer NOT NULL DEFAULT 1 CHECK (attempt >= 1),
    status            text NOT NULL CHECK (status IN ('requesting', 'requested', 'processed', 'downloaded',
                                                      'imported', 'rejected', 'failed', 'expired')),
    kraken_status     text,                 -- Queued | Processing | Processed, as last seen
    -- The data window requested (unix seconds, both inclusive); endtm is the seam with paging.
    starttm           bigint NOT NULL,
    endtm             bigint NOT NULL CHECK (endtm >= starttm),
    requested_at      timestamptz NOT NULL DEFAULT now(),
    processed_at      timestamptz,
    downloaded_at     timestamptz,
    imported_at       timestamptz,
    file_path         text,
    file_size         bigint,
    sha256            text CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    header            text[],
    rows_in_file      integer,              -- data rows, keyed or not
    rows_unkeyed      integer,              -- rows with an empty txid (initiated/failed deposits): not importable
    rows_inserted     integer,
    rows_already      integer,              -- ids already stored (from the API, or an earlier import)
    mismatches        integer,              -- fields that disagree with the API's rows of the same ids
    first_id          text,
    last_id           text,
    first_time        timestamptz,
    last_time         timestamptz,
    verification      jsonb NOT NULL DEFAULT '{}'::jsonb,
    error             text,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX exports_kraken_id ON audit.exports (account_id, kraken_id) WHERE kraken_id IS NOT NULL;
CREATE UNIQUE INDEX exports_one_imported ON audit.exports (account_id, report) WHERE status = 'imported';
CREATE INDEX exports_account_report ON audit.exports (account_id, report, id DESC);
COMMENT ON TABLE audit.exports IS 'Kraken data exports (AddExport) requested for backfill: state, data window, file hash, row counts, verification.';

-- Fields on which Kraken's export file and its REST API disagree for the same ledger entry or trade, after
-- normalising asset/pair names, number formats and time precision. Written by the import (rows already
-- collected from the API) and by the paging upsert (API rows whose id came from an export); the
-- source_mismatch rule turns them into findings.
CREATE TABLE audit.source_mismatches (
    account_id    integer NOT NULL REFERENCES audit.accounts(id),
    entity        text NOT NULL CHECK (entity IN ('ledger', 'trade')),
    entity_id     text NOT NULL,
    field         text NOT NULL,
    export_value  text,
    api_value     text,
    export_id     text,
    first_seen    timestamptz NOT NULL DEFAULT now(),
    last_seen     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, entity, entity_id, field)
);
CREATE INDEX source_mismatches_seen ON audit.source_mismatches (account_id, last_seen);
COMMENT ON TABLE audit.source_mismatches IS 'Export-vs-API disagreements per field (input of the source_mismatch rule).';

CREATE INDEX ledger_entries_export ON audit.ledger_entries (account_id, export_id) WHERE export_id IS NOT NULL;
CREATE INDEX trades_export ON audit.trades (account_id, export_id) WHERE export_id IS NOT NULL;
