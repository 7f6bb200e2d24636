/// One `*.json` file found in a ``DigestArchive``: its path and the digest it holds, or why it cannot be read.
public struct ArchivedDigest: Sendable {
    /// Full path of the file.
    public var path: String
    /// The path below the archive directory.
    public var relativePath: String
    /// The parsed digest, or the error naming what is wrong with the file (``IntegrityError/malformedDigest(path:reason:)``,
    /// ``IntegrityError/digestFileIO(path:reason:)``).
    public var result: Result<SignedDigest, IntegrityError>

    /// A file of the archive.
    public init(path: String, relativePath: String, result: Result<SignedDigest, IntegrityError>) {
        self.path = path
        self.relativePath = relativePath
        self.result = result
    }

    /// The digest when the file could be parsed.
    public var digest: SignedDigest? { if case .success(let d) = result { return d } else { return nil } }

    /// Why the file could not be parsed.
    public var error: IntegrityError? { if case .failure(let e) = result { return e } else { return nil } }

    /// Whether the file lies where ``DigestArchive/write(_:)`` puts its digest (a renamed or moved file does not).
    public var isWhereItBelongs: Bool { digest.map { $0.relativePath == relativePath } ?? false }
}
