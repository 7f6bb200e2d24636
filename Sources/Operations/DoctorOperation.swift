/// `kraken-audit doctor`: runs ``Doctor`` and prints its checklist; exit 1 when a check failed.
public struct DoctorOperation: AuditOperation {
    public static let label = "doctor"

    /// The full checklist.
    public init() {}

    public func run(in environment: AuditEnvironment) async throws -> CommandResult {
        let checks = await Doctor(environment: environment).run()
        return CommandResult(lines: [Doctor.render(checks)], status: checks.contains(where: { $0.status == .failed }) ? .failure : .success)
    }
}
