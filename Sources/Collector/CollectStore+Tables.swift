extension CollectStore {
    /// The collector's upserted tables (../shared/design.md: natural keys, raw JSON kept, history of statuses).
    enum Tables {
        /// Rows that came from an export (`source = 'export'`) are compared by ``Reconcile``, never given a new version.
        /// A row the WebSocket stream stored (`source = 'ws'`, issue 20) always gets REST's row as its next version:
        /// REST is the source of truth, and the current version then says the entry was confirmed.
        static let fromAPIOnly = "(t.source = 'api' AND t.raw IS DISTINCT FROM EXCLUDED.raw) OR t.source = 'ws'"
        static let changed = "t.raw IS DISTINCT FROM EXCLUDED.raw"

        static let ledger = UpsertTable(
            table: "ledger_entries", versions: "ledger_entry_versions", stage: "stage_ledger",
            columns: [
                ("ledger_id", "text"), ("refid", "text"), ("time", "timestamptz"), ("type", "text"), ("subtype", "text"),
                ("aclass", "text"), ("asset", "text"), ("amount", "numeric"), ("fee", "numeric"), ("balance", "numeric"),
                ("raw", "jsonb"),
            ],
            keys: ["ledger_id"], updateWhen: fromAPIOnly)

        static let trades = UpsertTable(
            table: "trades", versions: "trade_versions", stage: "stage_trades",
            columns: [
                ("txid", "text"), ("ordertxid", "text"), ("postxid", "text"), ("pair", "text"), ("time", "timestamptz"),
                ("type", "text"), ("ordertype", "text"), ("price", "numeric"), ("cost", "numeric"), ("fee", "numeric"),
                ("vol", "numeric"), ("margin", "numeric"), ("leverage", "text"), ("misc", "text"), ("trade_id", "bigint"),
                ("maker", "boolean"), ("ledgers", "text[]"), ("posstatus", "text"), ("raw", "jsonb"),
            ],
            keys: ["txid"], keepWhenMissing: ["ledgers"], updateWhen: fromAPIOnly)

        static let orders = UpsertTable(
            table: "orders", versions: "order_versions", stage: "stage_orders",
            columns: [
                ("txid", "text"), ("refid", "text"), ("userref", "bigint"), ("cl_ord_id", "text"), ("status", "text"),
                ("reason", "text"), ("opentm", "timestamptz"), ("closetm", "timestamptz"), ("starttm", "timestamptz"),
                ("expiretm", "timestamptz"), ("descr_pair", "text"), ("descr_type", "text"), ("descr_ordertype", "text"),
                ("descr_price", "numeric"), ("descr_price2", "numeric"), ("descr_leverage", "text"), ("descr_order", "text"),
                ("descr_close", "text"), ("vol", "numeric"), ("vol_exec", "numeric"), ("cost", "numeric"), ("fee", "numeric"),
                ("price", "numeric"), ("stopprice", "numeric"), ("limitprice", "numeric"), ("trigger", "text"), ("misc", "text"),
                ("oflags", "text"), ("trades", "text[]"), ("raw", "jsonb"),
            ],
            keys: ["txid"], keepWhenMissing: ["trades"], updateWhen: changed)

        /// One staging table for both funding tables: withdrawals have `key`, deposits `originators`.
        static let funding = UpsertTable(
            table: "withdrawals", versions: "withdrawal_versions", stage: "stage_funding",
            columns: [
                ("refid", "text"), ("method", "text"), ("network", "text"), ("aclass", "text"), ("asset", "text"),
                ("txid", "text"), ("info", "text"), ("amount", "numeric"), ("fee", "numeric"), ("time", "timestamptz"),
                ("status", "text"), ("status_prop", "text"), ("key", "text"), ("originators", "jsonb"), ("raw", "jsonb"),
            ],
            keys: ["refid"], notInTable: ["originators"], updateWhen: changed)
        static let withdrawals = funding
        static let deposits = funding.feeding("deposits", versions: "deposit_versions", notInTable: ["key"])

        /// Every staging table, created once per connection by ``CollectStore/prepare(_:)``.
        static let stages = [ledger, trades, orders, funding]

        static let ledgerUpsert = ledger.upsertSQL()
        static let tradesUpsert = trades.upsertSQL()
        /// A changed order's earlier state is kept in `audit.status_history`.
        static let ordersUpsert = orders.upsertSQL(
            returning: ["txid", "status", "raw"],
            more: """
                , history AS (
                    INSERT INTO audit.status_history (account_id, entity, entity_id, status, raw)
                    SELECT $1, 'order', txid, status, raw FROM up
                )
                """)
        static let withdrawalsUpsert = fundingUpsert(withdrawals, entity: "withdrawal")
        static let depositsUpsert = fundingUpsert(deposits, entity: "deposit")

        static func fundingUpsert(_ table: UpsertTable, entity: String) -> String {
            table.upsertSQL(
                returning: ["refid", "status", "status_prop", "raw"],
                more: """
                    , history AS (
                        INSERT INTO audit.status_history (account_id, entity, entity_id, status, status_prop, raw)
                        SELECT $1, '\(entity)', refid, status, status_prop, raw FROM up
                    )
                    """)
        }
    }
}
