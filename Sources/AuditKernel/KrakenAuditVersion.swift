/// The tool's version: what `kraken-audit --version` prints and what every run records in
/// `audit.collector_runs.version`, so a run in the log can be traced to the code that made it.
public enum KrakenAuditVersion {
    /// Semantic version of this build.
    public static let current = "0.1.0"
}
