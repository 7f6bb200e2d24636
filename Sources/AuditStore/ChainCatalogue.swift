/// The hash-chained tables and their encoded columns, as migration 0012 defines them, compiled into the binary.
///
/// `verify` reads the chains by this catalogue, never by `audit.chain_tables`: whoever can write the database
/// could otherwise point a chain at an untouched copy of its table, or swap two columns in the encoding order,
/// and edit the real rows unseen. The database's catalogue is compared with this one and every difference is
/// reported. A migration that changes a chained table changes this list in the same commit (the test
/// `ChainCatalogueTests` holds the two equal).
extension ChainTable {
    public static let catalogue: [ChainTable] = [
        ChainTable(
            chain: "api_calls", relation: "api_calls", keyColumns: ["id"],
            columns: [
                ("id", "bigint"), ("run_id", "bigint"), ("account_id", "integer"), ("key_fingerprint", "text"),
                ("endpoint", "text"), ("nonce", "bigint"), ("params", "jsonb"), ("started_at", "timestamp with time zone"),
                ("duration_ms", "double precision"), ("http_status", "integer"), ("errors", "text[]"), ("error_kind", "text"),
                ("retry", "integer"), ("bytes", "integer"), ("counter_after", "double precision"),
            ].map { Column(name: $0.0, type: $0.1) }),
        ChainTable(
            chain: "api_key_snapshots", relation: "api_key_snapshots", keyColumns: ["key_fingerprint", "id"],
            columns: [
                ("id", "bigint"), ("account_id", "integer"), ("key_fingerprint", "text"), ("run_id", "bigint"),
                ("api_call_id", "bigint"), ("request_nonce", "numeric"), ("audit_nonce_before", "numeric"),
                ("audit_used_before", "timestamp with time zone"), ("observed_at", "timestamp with time zone"),
                ("key_name", "text"), ("permissions", "text[]"), ("ip_allowlist", "text[]"), ("nonce_window", "numeric"),
                ("valid_until", "timestamp with time zone"), ("query_from", "timestamp with time zone"),
                ("query_to", "timestamp with time zone"), ("created_time", "timestamp with time zone"),
                ("modified_time", "timestamp with time zone"), ("last_used", "timestamp with time zone"), ("nonce", "numeric"),
                ("raw", "jsonb"),
            ].map { Column(name: $0.0, type: $0.1) }),
        ChainTable(
            chain: "balances", relation: "balances", keyColumns: ["snapshot_at", "asset"],
            columns: [
                ("account_id", "integer"), ("snapshot_at", "timestamp with time zone"), ("asset", "text"),
                ("balance", "numeric"), ("hold_trade", "numeric"), ("credit", "numeric"), ("credit_used", "numeric"),
                ("run_id", "bigint"), ("raw", "jsonb"),
            ].map { Column(name: $0.0, type: $0.1) }),
        ChainTable(
            chain: "deposits", relation: "deposit_versions", keyColumns: ["refid", "version"],
            columns: [
                ("account_id", "integer"), ("refid", "text"), ("method", "text"), ("network", "text"), ("aclass", "text"),
                ("asset", "text"), ("txid", "text"), ("info", "text"), ("amount", "numeric"), ("fee", "numeric"),
                ("time", "timestamp with time zone"), ("status", "text"), ("status_prop", "text"), ("originators", "jsonb"),
                ("raw", "jsonb"), ("first_seen_at", "timestamp with time zone"), ("updated_at", "timestamp with time zone"),
                ("version", "integer"),
            ].map { Column(name: $0.0, type: $0.1) }),
        ChainTable(
            chain: "exports", relation: "exports", keyColumns: ["report", "descr"],
            columns: [
                ("id", "bigint"), ("account_id", "integer"), ("report", "text"), ("descr", "text"), ("starttm", "bigint"),
                ("endtm", "bigint"), ("requested_at", "timestamp with time zone"),
            ].map { Column(name: $0.0, type: $0.1) }),
        ChainTable(
            chain: "finding_events", relation: "finding_events", keyColumns: ["finding_id", "id"],
            columns: [
                ("id", "bigint"), ("finding_id", "bigint"), ("at", "timestamp with time zone"), ("old_status", "text"),
                ("new_status", "text"), ("note", "text"), ("changed_by", "text"), ("run_id", "bigint"),
            ].map { Column(name: $0.0, type: $0.1) }),
        ChainTable(
            chain: "findings", relation: "findings", keyColumns: ["rule_id", "id"],
            columns: [
                ("id", "bigint"), ("rule_id", "text"), ("account_id", "integer"), ("dedupe_key", "text"),
                ("first_seen", "timestamp with time zone"),
            ].map { Column(name: $0.0, type: $0.1) }),
        ChainTable(
            chain: "ledger_entries", relation: "ledger_entry_versions", keyColumns: ["ledger_id", "version"],
            columns: [
                ("account_id", "integer"), ("ledger_id", "text"), ("refid", "text"), ("time", "timestamp with time zone"),
                ("type", "text"), ("subtype", "text"), ("aclass", "text"), ("asset", "text"), ("amount", "numeric"),
                ("fee", "numeric"), ("balance", "numeric"), ("raw", "jsonb"), ("source", "text"), ("export_id", "text"),
                ("first_seen_at", "timestamp with time zone"), ("updated_at", "timestamp with time zone"),
                ("version", "integer"),
            ].map { Column(name: $0.0, type: $0.1) }),
        ChainTable(
            chain: "orders", relation: "order_versions", keyColumns: ["txid", "version"],
            columns: [
                ("account_id", "integer"), ("txid", "text"), ("refid", "text"), ("userref", "bigint"), ("cl_ord_id", "text"),
                ("status", "text"), ("reason", "text"), ("opentm", "timestamp with time zone"),
                ("closetm", "timestamp with time zone"), ("starttm", "timestamp with time zone"),
                ("expiretm", "timestamp with time zone"), ("descr_pair", "text"), ("descr_type", "text"),
                ("descr_ordertype", "text"), ("descr_price", "numeric"), ("descr_price2", "numeric"), ("descr_leverage", "text"),
                ("descr_order", "text"), ("descr_close", "text"), ("vol", "numeric"), ("vol_exec", "numeric"),
                ("cost", "numeric"), ("fee", "numeric"), ("price", "numeric"), ("stopprice", "numeric"),
                ("limitprice", "numeric"), ("trigger", "text"), ("misc", "text"), ("oflags", "text"), ("trades", "text[]"),
                ("raw", "jsonb"), ("first_seen_at", "timestamp with time zone"), ("updated_at", "timestamp with time zone"),
                ("version", "integer"),
            ].map { Column(name: $0.0, type: $0.1) }),
        ChainTable(
            chain: "source_mismatches", relation: "source_mismatches", keyColumns: ["entity", "entity_id", "field", "id"],
            columns: [
                ("account_id", "integer"), ("entity", "text"), ("entity_id", "text"), ("field", "text"),
                ("export_value", "text"), ("api_value", "text"), ("export_id", "text"),
                ("first_seen", "timestamp with time zone"), ("last_seen", "timestamp with time zone"), ("id", "bigint"),
            ].map { Column(name: $0.0, type: $0.1) }),
        ChainTable(
            chain: "status_history", relation: "status_history", keyColumns: ["entity", "entity_id", "id"],
            columns: [
                ("id", "bigint"), ("account_id", "integer"), ("entity", "text"), ("entity_id", "text"), ("status", "text"),
                ("status_prop", "text"), ("observed_at", "timestamp with time zone"), ("raw", "jsonb"),
            ].map { Column(name: $0.0, type: $0.1) }),
        ChainTable(
            chain: "trades", relation: "trade_versions", keyColumns: ["txid", "version"],
            columns: [
                ("account_id", "integer"), ("txid", "text"), ("ordertxid", "text"), ("postxid", "text"), ("pair", "text"),
                ("time", "timestamp with time zone"), ("type", "text"), ("ordertype", "text"), ("price", "numeric"),
                ("cost", "numeric"), ("fee", "numeric"), ("vol", "numeric"), ("margin", "numeric"), ("leverage", "text"),
                ("misc", "text"), ("trade_id", "bigint"), ("maker", "boolean"), ("ledgers", "text[]"), ("posstatus", "text"),
                ("raw", "jsonb"), ("source", "text"), ("export_id", "text"), ("first_seen_at", "timestamp with time zone"),
                ("updated_at", "timestamp with time zone"), ("version", "integer"),
            ].map { Column(name: $0.0, type: $0.1) }),
        ChainTable(
            chain: "withdrawals", relation: "withdrawal_versions", keyColumns: ["refid", "version"],
            columns: [
                ("account_id", "integer"), ("refid", "text"), ("method", "text"), ("network", "text"), ("aclass", "text"),
                ("asset", "text"), ("txid", "text"), ("info", "text"), ("amount", "numeric"), ("fee", "numeric"),
                ("time", "timestamp with time zone"), ("status", "text"), ("status_prop", "text"), ("key", "text"),
                ("raw", "jsonb"), ("first_seen_at", "timestamp with time zone"), ("updated_at", "timestamp with time zone"),
                ("version", "integer"),
            ].map { Column(name: $0.0, type: $0.1) }),
    ]
}
