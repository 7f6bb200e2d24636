import ChildProcesses
import Foundation
import Testing

/// Issue 14 item 12: kraken-audit holds decoded HMAC keys, so it disables core dumps at start
/// (RLIMIT_CORE 0 and PR_SET_DUMPABLE 0).
///
/// How it is observed from outside, with no test-only switch in the binary: `doctor` reads each account's
/// secret first, and the secret comes from `api_secret_command`, a script that kraken-audit starts and waits
/// for. The script inspects its parent, the live kraken-audit process: `/proc/PPID/limits` (Max core file
/// size) and the owner of `/proc/PPID/status`, which the kernel shows as root for a non-dumpable process
/// (the `/proc/PPID` directory itself may keep the owner it was first looked up with). The binary
/// runs as an unprivileged user (as root, `setpriv` drops to nobody), so "owned by root" can only mean
/// "not dumpable". It is started with the core limit raised to unlimited, so 0 can only come from itself.
@Suite struct CoreDumpTests {
    static let secret = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="

    @Test func processIsNotDumpableAndHasNoCoreLimit() async throws {
        let asRoot = geteuid() == 0
        let setpriv = "/usr/bin/setpriv"
        try #require(!asRoot || FileManager.default.isExecutableFile(atPath: setpriv), "running as root needs setpriv to drop privileges")
        // World-accessible: the binary may run as nobody.
        let dir = URL(fileURLWithPath: "/tmp").appendingPathComponent("ka-core-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: dir.path)
        defer { try? FileManager.default.removeItem(at: dir) }
        let seen = dir.appendingPathComponent("seen").path
        let script = dir.appendingPathComponent("secret.sh").path
        try """
        #!/bin/sh
        { echo "owner=$(stat -c %u /proc/$PPID/status)"; echo "me=$(id -u)"; grep 'Max core file size' /proc/$PPID/limits; } > '\(seen).tmp'
        mv '\(seen).tmp' '\(seen)'
        echo '\(Self.secret)'
        """.write(toFile: script, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script)
        let config = dir.appendingPathComponent("kraken-audit.toml").path
        // Nothing listens on these: doctor's later checks fail fast, which does not matter here.
        try """
        [database]
        url = "postgresql://127.0.0.1:9/none?connect_timeout=2"
        [[account]]
        name = "main"
        api_key_env = "KA_CORE_KEY"
        api_secret_command = ["\(script)"]
        api_url = "http://127.0.0.1:9"
        timeout_seconds = 2
        """.write(toFile: config, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: config)

        let drop = asRoot ? "\(setpriv) --reuid=65534 --regid=65534 --clear-groups " : ""
        let command = "ulimit -c unlimited 2>/dev/null; exec \(drop)\"$0\" doctor --config \"$1\""
        let p = try ChildProcess.start(
            "/bin/sh", arguments: ["-c", command, NightlyRunTests.binary, config],
            environment: ["PATH": "/usr/bin:/bin", "KA_CORE_KEY": "PUBKEY"], stdout: .capture(limit: 1 << 20))
        _ = await NightlyRunTests.finish(p, timeout: 120)
        let report = try #require(try? String(contentsOfFile: seen, encoding: .utf8), "the secret command did not run: \(p.stdoutText)")
        let fields = Dictionary(
            report.split(separator: "\n").compactMap { line -> (String, String)? in
                let kv = line.split(separator: "=", maxSplits: 1)
                return kv.count == 2 ? (String(kv[0]), String(kv[1])) : nil
            }, uniquingKeysWith: { a, _ in a })
        try #require(fields["me"] != nil && fields["me"] != "0", "the binary ran as root; the check needs an unprivileged user: \(report)")
        #expect(fields["owner"] == "0", "/proc/<kraken-audit>/status is owned by uid \(fields["owner"] ?? "?"): the process is dumpable")
        let coreLine = try #require(report.split(separator: "\n").first { $0.hasPrefix("Max core file size") })
        let limits = coreLine.split(separator: " ", omittingEmptySubsequences: true).dropFirst(4).prefix(2)
        #expect(Array(limits) == ["0", "0"], "\(coreLine)")
    }
}
