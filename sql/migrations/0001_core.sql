-- kraken-audit core schema: what the collector stores and the analyser reads.
-- Column names follow Kraken's field names (../shared/kraken-api.md §3) so analysts recognise them.
-- Amounts are NUMERIC (exact), times timestamptz, and every entity keeps Kraken's object verbatim in raw jsonb.
-- Internal tables may change in later migrations; analysts should use the views (a later migration).

CREATE TABLE audit.accounts (
    id          serial PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (name <> ''),
    created_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE audit.accounts IS 'Kraken accounts audited, by the label given in the config ([[account]] name).';

-- The secret is never stored: only a fingerprint of the public key (sha256:<16 hex>).
CREATE TABLE audit.api_keys (
    id                  serial PRIMARY KEY,
    account_id          integer NOT NULL REFERENCES audit.accounts(id),
    name                text NOT NULL,
    key_fingerprint     text NOT NULL UNIQUE CHECK (key_fingerprint ~ '^sha256:[0-9a-f]{16}$'),
    last_nonce          bigint NOT NULL DEFAULT 0 CHECK (last_nonce >= 0),
    -- Estimate of Kraken's call counter for this key, shared by every process (collector pacing).
    counter_value       double precision NOT NULL DEFAULT 0,
    counter_updated_at  timestamptz NOT NULL DEFAULT now(),
    lockout_until       timestamptz,
    key_created         date,
    first_seen_at       timestamptz NOT NULL DEFAULT now(),
    last_used_at        timestamptz
);
COMMENT ON TABLE audit.api_keys IS 'API keys by fingerprint (never the secret); last_nonce makes nonces strictly increasing across processes.';

CREATE TABLE audit.collector_runs (
    id           bigserial PRIMARY KEY,
    command      text NOT NULL,                       -- run | collect | analyse | ...
    account_id   integer REFERENCES audit.accounts(id),
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    status       text NOT NULL DEFAULT 'running'
                 CHECK (status IN ('running', 'success', 'partial', 'failed', 'interrupted')),
    error        text,
    stats        jsonb NOT NULL DEFAULT '{}'::jsonb,  -- rows added per endpoint, calls, pages...
    pid          integer,
    hostname     text,
    version      text
);
CREATE INDEX collector_runs_account_started ON audit.collector_runs (account_id, started_at DESC);
COMMENT ON TABLE audit.collector_runs IS 'One row per command run (and per account within a run) with its outcome.';

-- Append-only log of every HTTP call made to Kraken (no secrets, no signatures, no bodies).
CREATE TABLE audit.api_calls (
    id               bigserial PRIMARY KEY,
    run_id           bigint REFERENCES audit.collector_runs(id),
    account_id       integer REFERENCES audit.accounts(id),
    key_fingerprint  text,
    endpoint         text NOT NULL,
    nonce            bigint,
    params           jsonb NOT NULL DEFAULT '{}'::jsonb,
    started_at       timestamptz NOT NULL,
    duration_ms      double precision NOT NULL,
    http_status      integer,
    errors           text[] NOT NULL DEFAULT '{}',
    error_kind       text,
    retry            integer NOT NULL DEFAULT 0,
    bytes            integer NOT NULL DEFAULT 0,
    counter_after    double precision
);
CREATE INDEX api_calls_account_started ON audit.api_calls (account_id, started_at);
CREATE INDEX api_calls_errors ON audit.api_calls (account_id, started_at) WHERE error_kind IS NOT NULL;
COMMENT ON TABLE audit.api_calls IS 'Every call kraken-audit made to Kraken: endpoint, nonce, parameters, timing, HTTP status, Kraken error strings.';

-- Paging state per account and endpoint, written in the same transaction as the page it produced.
CREATE TABLE audit.collect_cursors (
    account_id  integer NOT NULL REFERENCES audit.accounts(id),
    endpoint    text NOT NULL,
    state       jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, endpoint)
);

CREATE TABLE audit.ledger_entries (
    account_id     integer NOT NULL REFERENCES audit.accounts(id),
    ledger_id      text NOT NULL,
    refid          text,
    time           timestamptz NOT NULL,
    type           text NOT NULL,
    subtype        text NOT NULL DEFAULT '',
    aclass         text NOT NULL DEFAULT 'currency',
    asset          text NOT NULL,
    amount         numeric NOT NULL,
    fee            numeric NOT NULL,
    balance        numeric NOT NULL,
    raw            jsonb NOT NULL,
    source         text NOT NULL DEFAULT 'api' CHECK (source IN ('api', 'export')),
    export_id      text,
    first_seen_at  timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, ledger_id)
);
CREATE INDEX ledger_entries_asset_time ON audit.ledger_entries (account_id, asset, time, ledger_id);
CREATE INDEX ledger_entries_refid ON audit.ledger_entries (account_id, refid);
CREATE INDEX ledger_entries_first_seen ON audit.ledger_entries (first_seen_at);

CREATE TABLE audit.trades (
    account_id     integer NOT NULL REFERENCES audit.accounts(id),
    txid           text NOT NULL,
    ordertxid      text,
    postxid        text,
    pair           text NOT NULL,
    time           timestamptz NOT NULL,
    type           text NOT NULL,
    ordertype      text,
    price          numeric NOT NULL,
    cost           numeric NOT NULL,
    fee            numeric NOT NULL,
    vol            numeric NOT NULL,
    margin         numeric,
    leverage       text,
    misc           text,
    trade_id       bigint,
    maker          boolean,
    ledgers        text[],
    posstatus      text,
    raw            jsonb NOT NULL,
    source         text NOT NULL DEFAULT 'api' CHECK (source IN ('api', 'export')),
    export_id      text,
    first_seen_at  timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, txid)
);
CREATE INDEX trades_pair_time ON audit.trades (account_id, pair, time);
CREATE INDEX trades_ordertxid ON audit.trades (account_id, ordertxid);
CREATE INDEX trades_first_seen ON audit.trades (first_seen_at);

CREATE TABLE audit.orders (
    account_id       integer NOT NULL REFERENCES audit.accounts(id),
    txid             text NOT NULL,
    refid            text,
    userref          bigint,
    cl_ord_id        text,
    status           text NOT NULL,
    reason           text,
    opentm           timestamptz,
    closetm          timestamptz,
    starttm          timestamptz,
    expiretm         timestamptz,
    descr_pair       text,
    descr_type       text,
    descr_ordertype  text,
    descr_price      numeric,
    descr_price2     numeric,
    descr_leverage   text,
    descr_order      text,
    descr_close      text,
    vol              numeric,
    vol_exec         numeric,
    cost             numeric,
    fee              numeric,
    price            numeric,
    stopprice        numeric,
    limitprice       numeric,
    trigger          text,
    misc             text,
    oflags           text,
    trades           text[],
    raw              jsonb NOT NULL,
    first_seen_at    timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, txid)
);
CREATE INDEX orders_opentm ON audit.orders (account_id, opentm);
CREATE INDEX orders_status ON audit.orders (account_id, status);

-- Every state an order or a funding record was seen in (an open order that closes, a withdrawal that
-- moves from Pending to Success): the earlier state is never lost.
CREATE TABLE audit.status_history (
    id           bigserial PRIMARY KEY,
    account_id   integer NOT NULL REFERENCES audit.accounts(id),
    entity       text NOT NULL CHECK (entity IN ('order', 'withdrawal', 'deposit')),
    entity_id    text NOT NULL,
    status       text NOT NULL,
    status_prop  text,
    observed_at  timestamptz NOT NULL DEFAULT now(),
    raw          jsonb NOT NULL
);
CREATE INDEX status_history_entity ON audit.status_history (account_id, entity, entity_id, observed_at);

CREATE TABLE audit.withdrawals (
    account_id     integer NOT NULL REFERENCES audit.accounts(id),
    refid          text NOT NULL,
    method         text,
    network        text,
    aclass         text,
    asset          text NOT NULL,
    txid           text,
    info           text,            -- destination address
    amount         numeric NOT NULL,
    fee            numeric,
    time           timestamptz NOT NULL,
    status         text NOT NULL,
    status_prop    text,
    key            text,            -- address-book (withdrawal key) name
    raw            jsonb NOT NULL,
    first_seen_at  timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, refid)
);
CREATE INDEX withdrawals_asset_time ON audit.withdrawals (account_id, asset, time);

CREATE TABLE audit.deposits (
    account_id     integer NOT NULL REFERENCES audit.accounts(id),
    refid          text NOT NULL,
    method         text,
    network        text,
    aclass         text,
    asset          text NOT NULL,
    txid           text,
    info           text,
    amount         numeric NOT NULL,
    fee            numeric,
    time           timestamptz NOT NULL,
    status         text NOT NULL,
    status_prop    text,
    originators    jsonb,
    raw            jsonb NOT NULL,
    first_seen_at  timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, refid)
);
CREATE INDEX deposits_asset_time ON audit.deposits (account_id, asset, time);

-- Balance snapshots (Balance / BalanceEx), one set per collection.
CREATE TABLE audit.balances (
    account_id   integer NOT NULL REFERENCES audit.accounts(id),
    snapshot_at  timestamptz NOT NULL,
    asset        text NOT NULL,
    balance      numeric NOT NULL,
    hold_trade   numeric,
    credit       numeric,
    credit_used  numeric,
    run_id       bigint REFERENCES audit.collector_runs(id),
    raw          jsonb NOT NULL,
    PRIMARY KEY (account_id, snapshot_at, asset)
);

CREATE TABLE audit.findings (
    id                 bigserial PRIMARY KEY,
    rule_id            text NOT NULL,
    severity           text NOT NULL CHECK (severity IN ('info', 'low', 'medium', 'high', 'critical')),
    account_id         integer REFERENCES audit.accounts(id),
    entity_type        text,            -- ledger | trade | order | withdrawal | deposit | api_key | account
    entity_id          text,
    api_call_ids       bigint[] NOT NULL DEFAULT '{}',
    title              text NOT NULL,
    evidence           jsonb NOT NULL DEFAULT '{}'::jsonb,
    dedupe_key         text NOT NULL UNIQUE,
    first_seen         timestamptz NOT NULL DEFAULT now(),
    last_seen          timestamptz NOT NULL DEFAULT now(),
    status             text NOT NULL DEFAULT 'open'
                       CHECK (status IN ('open', 'acknowledged', 'resolved', 'suppressed')),
    status_note        text,
    status_changed_at  timestamptz,
    status_changed_by  text
);
CREATE INDEX findings_account_status ON audit.findings (account_id, status, severity);
CREATE INDEX findings_first_seen ON audit.findings (first_seen);
