/// PostgreSQL array literals for binds (`$1::text[]`), so arrays are bound, never spliced into SQL.
public enum PGArray {
    /// `{"a","b"}` with every element quoted and `\` / `"` escaped.
    public static func text(_ values: [String]) -> String {
        "{"
            + values.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
            .joined(separator: ",") + "}"
    }
}
