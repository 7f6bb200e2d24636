/// A command line that is wrong in a way only a loaded configuration can tell (e.g. a report period that ends
/// before it starts in the configured time zone). Exits 64, as argument-parser's own usage errors do.
public struct UsageError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What is wrong with the command line and how to write it.
    public let description: String

    /// An error saying `description`.
    public init(_ description: String) { self.description = description }
}
