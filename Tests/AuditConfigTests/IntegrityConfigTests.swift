import AuditConfig
import Foundation
import Testing

/// `[integrity]` (issue 17): required paths, an absolute hook, `verify_full_every_days` in range, unknown keys
/// refused; each error names the key.
@Suite struct IntegrityConfigTests {
    static let account = "[[account]]\nname = \"a\"\napi_key_env = \"K\"\napi_secret_env = \"S\"\n"
    static let section =
        "[integrity]\nsigning_key_file = \"/etc/kraken-audit/signing.key\"\ndigest_dir = \"/var/lib/kraken-audit/digests\"\n"

    func outcome(_ text: String) -> Result<AuditConfiguration, ConfigError> {
        do { return .success(try ConfigLoader.parse(text, path: "k.toml")) } catch { return .failure(error) }
    }

    @Test func absentSectionIsNil() throws {
        #expect(try ConfigLoader.parse(Self.account, path: "k.toml").integrity == nil)
    }

    @Test func defaultsAndAllKeys() throws {
        let minimal = try ConfigLoader.parse(Self.account + Self.section, path: "k.toml")
        #expect(
            minimal.integrity
                == IntegrityConfig(
                    signingKeyFile: "/etc/kraken-audit/signing.key", digestDir: "/var/lib/kraken-audit/digests", hook: nil,
                    verifyFullEveryDays: 7))
        let full = try ConfigLoader.parse(
            Self.account + Self.section + "hook = \"/usr/local/bin/copy-digest\"\nverify_full_every_days = 30\n", path: "k.toml")
        #expect(full.integrity?.hook == "/usr/local/bin/copy-digest")
        #expect(full.integrity?.verifyFullEveryDays == 30)
    }

    @Test(arguments: [
        ("[integrity]\ndigest_dir = \"/d\"\n", "integrity.signing_key_file", "required"),
        ("[integrity]\nsigning_key_file = \"/k\"\n", "integrity.digest_dir", "required"),
        ("[integrity]\nsigning_key_file = \"\"\ndigest_dir = \"/d\"\n", "integrity.signing_key_file", "empty"),
        ("[integrity]\nsigning_key_file = 1\ndigest_dir = \"/d\"\n", "integrity.signing_key_file", "must be a string"),
        (section + "hook = \"copy-digest\"\n", "integrity.hook", "absolute path"),
        (section + "verify_full_every_days = 0\n", "integrity.verify_full_every_days", "1 to 3650"),
        (section + "verify_full_every_days = 3651\n", "integrity.verify_full_every_days", "1 to 3650"),
        (section + "verify_full_every_days = 1.5\n", "integrity.verify_full_every_days", "1 to 3650"),
        (section + "verify_full_every_days = inf\n", "integrity.verify_full_every_days", "1 to 3650"),
        (section + "verify_full_every_days = \"7\"\n", "integrity.verify_full_every_days", "whole number"),
        (section + "signing_key = \"/k\"\n", "integrity.signing_key", "unknown config key"),
        ("integrity = 1\n", "integrity", "must be a table"),
    ])
    func badValuesNameTheKey(text: String, key: String, message: String) {
        guard case .failure(let error) = outcome(text + Self.account) else {
            Issue.record("accepted: \(text)")
            return
        }
        #expect("\(error)".contains("'\(key)'"), "\(error)")
        #expect("\(error)".contains(message), "\(error)")
    }

    @Test func theExampleSectionParsesWhenUncommented() throws {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        let text = try String(contentsOf: url.appendingPathComponent("scripts/kraken-audit.example.toml"), encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let start = lines.firstIndex(of: "# [integrity]") else {
            Issue.record("the example has no commented [integrity] section")
            return
        }
        var uncommented = lines
        var i = start
        while i < lines.count, lines[i].hasPrefix("# ") {
            uncommented[i] = String(lines[i].dropFirst(2))
            i += 1
        }
        let c = try ConfigLoader.parse(uncommented.joined(separator: "\n"), path: "example")
        #expect(c.integrity?.signingKeyFile == "/etc/kraken-audit/signing.key")
        #expect(c.integrity?.hook == "/etc/kraken-audit/copy-digest")
        #expect(c.integrity?.verifyFullEveryDays == 7)
    }
}
