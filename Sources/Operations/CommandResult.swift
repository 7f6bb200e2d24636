/// What a command has to say when it ends without an error: text for stdout, an optional line for stderr, and
/// the exit status (``ExitStatus/success`` or a status that is not an error, e.g. 3 for a partial run).
public struct CommandResult: Sendable, Equatable {
    /// Printed to stdout as is (it ends with a newline when not empty).
    public var output: String
    /// Printed to stderr as is, after `output` (e.g. the files a report was written to).
    public var notice: String?
    /// How the process exits.
    public var status: ExitStatus

    /// A result printing `output` (and `notice` on stderr), exiting with `status`.
    public init(output: String = "", notice: String? = nil, status: ExitStatus = .success) {
        self.output = output
        self.notice = notice
        self.status = status
    }

    /// `lines`, each ended by a newline.
    public init(lines: [String], status: ExitStatus = .success) {
        self.init(output: lines.map { $0 + "\n" }.joined(), status: status)
    }
}
