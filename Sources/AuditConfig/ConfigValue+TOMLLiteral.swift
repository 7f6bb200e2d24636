import TOMLKit

extension ConfigValue {
    /// One TOML value written on its own, such as a rule header's parameter default (`3`, `"Mon-Fri"`, `["KFEE"]`,
    /// `{ XXBT = "2.5" }`), parsed by TOMLKit as the configuration file is, so a default means exactly what the same
    /// text means in `[rules.<id>]`. Nil when `literal` is not exactly one TOML value (a second key, a line break).
    public init?(tomlLiteral literal: String) {
        guard !literal.contains(where: \.isNewline),
            let table = try? TOMLTable(string: "value = " + literal),
            table.keys == ["value"], let value = table["value"], let converted = ConfigLoader.convert(value)
        else { return nil }
        self = converted
    }
}
