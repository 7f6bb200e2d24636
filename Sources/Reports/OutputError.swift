/// Why an output file could not be written; nothing half-written is left behind.
public enum OutputError: Error, CustomStringConvertible {
    /// Writing, syncing or renaming the file at `path` failed for `reason` (the system's words).
    case cannotWrite(path: String, reason: String)

    /// What failed and what to check.
    public var description: String {
        switch self {
        case .cannotWrite(let path, let reason):
            return "cannot write \(path): \(reason) (check the directory exists, is writable and has free space)"
        }
    }
}
