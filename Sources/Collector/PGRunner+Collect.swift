import AuditStore

extension PGRunner {
    /// Runs `body` on a connection (``PGRunner/run(_:)``) with the collector's error mapping: a
    /// database failure becomes ``CollectError/database(_:)``, a ``CollectError`` thrown inside passes unchanged.
    /// Every database access of a collection goes through here.
    @discardableResult
    func collectRun<T: Sendable>(_ body: @escaping @Sendable (PGConnection) throws -> T) async throws(CollectError) -> T {
        do {
            return try await run(body)
        } catch let e as PGError {
            throw .database(e)
        } catch let e as CollectError {
            throw e
        } catch {
            throw .database(PGError(kind: .query, message: "\(error)"))
        }
    }
}
