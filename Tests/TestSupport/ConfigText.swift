/// Builds kraken-audit TOML for tests (one place, so every test writes the same keys the README documents).
public enum ConfigText {
    /// `[database]` with a libpq URL.
    public static func database(_ url: String) -> String {
        "[database]\nurl = \"\(url)\"\n"
    }

    /// One `[[account]]` table; `rateLimit` is `(max, decay_per_second)`; `extra` lines are appended as given.
    public static func account(
        name: String, keyEnv: String, secretEnv: String, apiURL: String, rateLimit: (Double, Double)? = nil,
        timeoutSeconds: Double? = nil, extra: [String] = []
    ) -> String {
        var lines = [
            "[[account]]", "name = \"\(name)\"", "api_key_env = \"\(keyEnv)\"", "api_secret_env = \"\(secretEnv)\"",
            "api_url = \"\(apiURL)\"",
        ]
        if let (max, decay) = rateLimit { lines.append("rate_limit = { max = \(number(max)), decay_per_second = \(number(decay)) }") }
        if let timeoutSeconds { lines.append("timeout_seconds = \(number(timeoutSeconds))") }
        return (lines + extra).joined(separator: "\n") + "\n\n"
    }

    static func number(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e15 ? String(Int64(x)) : String(x)
    }
}
