import HTTPTypes
import HummingbirdWebSocket
import Logging
import NIOCore

/// The server side of one WebSocket v2 connection at `/v2` (/work/notes/ws-protocol.md): a reader handing each
/// text message to ``SimulatorState``, a single writer draining the connection's queue (``WSHub``), and a ticker
/// that makes the writer send a heartbeat in a quiet second.
enum WebSocketSession {
    /// The handler type of Hummingbird's HTTP/1 server with WebSocket upgrade.
    typealias Handler = WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>

    /// Upgrades `/v2` (query ignored) and nothing else: any other path is not upgraded, so Hummingbird answers the
    /// upgrade with 400. Plain HTTP requests never come here; they go to ``SimResponder``.
    static func shouldUpgrade(state: SimulatorState)
        -> @Sendable (HTTPRequest, any Channel, Logger) async throws -> ShouldUpgradeResult<Handler>
    {
        { request, channel, _ in
            let path = (request.path ?? "").split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            guard path == "/v2" else { return .dontUpgrade }
            return .upgrade([:], handler(state: state, channel: channel))
        }
    }

    static func handler(state: SimulatorState, channel: any Channel) -> Handler {
        { inbound, outbound, _ in
            let (queue, continuation) = AsyncStream<WSHub.Outgoing>.makeStream()
            let hub = state.wsHub
            let id = await state.webSocketConnected(channel: channel, continuation: continuation)
            defer { hub.unregister(id) }
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await write(queue, to: outbound, hub: hub, connection: id) }
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .seconds(1))
                        continuation.yield(.tick)
                    }
                }
                do {
                    for try await message in inbound.messages(maxSize: 1 << 20) {
                        guard case .text(let text) = message else { continue }
                        await state.webSocketRequest(text, connection: id)
                    }
                } catch {
                    // The connection failed or was dropped on purpose; the writer ends with it.
                }
                group.cancelAll()
            }
        }
    }

    /// Sends what the connection's queue holds, skipping everything while the connection is stalled.
    private static func write(
        _ queue: AsyncStream<WSHub.Outgoing>, to outbound: WebSocketOutboundWriter, hub: WSHub, connection id: UInt64
    ) async {
        var lastSent = ContinuousClock.now
        for await item in queue {
            let text: String
            var isUpdate = false
            switch item {
            case .tick:
                // Heartbeat once a second on a subscribed connection when nothing else left in that second.
                guard ContinuousClock.now - lastSent >= .milliseconds(900), hub.wantsHeartbeat(id) else { continue }
                text = WSWire.heartbeat
            case .text(let message, let update):
                guard !hub.isStalled(id) else { continue }
                text = message
                isUpdate = update
            }
            do {
                try await outbound.writeTextMessage(text)
            } catch {
                return
            }
            lastSent = ContinuousClock.now
            if isUpdate { hub.noteUpdateSent(id) }
        }
    }
}
