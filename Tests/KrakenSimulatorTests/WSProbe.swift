import AuditKernel
import Foundation
import HummingbirdWSClient
import KrakenSimulator
import Logging

/// A real WebSocket client (WSClient) on the simulator's `/v2`: keeps every text message it receives, in order,
/// and sends requests. Tests poll it with deadlines (``waitFor(_:where:)``), never with sleeps.
actor WSProbe {
    struct NotConnected: Error, CustomStringConvertible {
        let reason: String
        var description: String { "the WebSocket connection did not open: \(reason)" }
    }

    private(set) var messages: [JSONValue] = []
    private(set) var closed = false
    private(set) var failure: String? = nil
    private var writer: WebSocketOutboundWriter? = nil
    private var task: Task<Void, Never>? = nil

    /// Connects to `url` (default: the simulator's ``SimulatorServer/webSocketURL``); throws if it does not open.
    static func connect(_ url: URL, timeout: Double = 20) async throws -> WSProbe {
        let probe = WSProbe()
        await probe.start(url)
        _ = await eventually(timeout) { await probe.isSettled }
        guard await probe.isOpen else { throw NotConnected(reason: await probe.failure ?? "no answer within \(timeout) s") }
        return probe
    }

    private var isSettled: Bool { writer != nil || closed }
    var isOpen: Bool { writer != nil && !closed }

    private func start(_ url: URL) {
        var logger = Logger(label: "ws-probe")
        logger.logLevel = .warning
        task = Task {
            do {
                try await WebSocketClient.connect(url: url.absoluteString, logger: logger) { inbound, outbound, _ in
                    await self.attach(outbound)
                    for try await message in inbound.messages(maxSize: 1 << 22) {
                        if case .text(let text) = message { await self.receive(text) }
                    }
                }
            } catch {
                self.fail(String(describing: error))
            }
            self.markClosed()
        }
    }

    private func attach(_ writer: WebSocketOutboundWriter) { self.writer = writer }
    private func fail(_ reason: String) { failure = reason }
    private func markClosed() { closed = true }

    private func receive(_ text: String) {
        // Keep unparsable text visible to the test as a string rather than losing it.
        messages.append((try? JSONValue.parse(text)) ?? .string(text))
    }

    /// Sends one text message.
    func send(_ text: String) async throws {
        guard let writer, !closed else { throw NotConnected(reason: "connection closed") }
        try await writer.writeTextMessage(text)
    }

    /// Messages that satisfy `predicate`, in arrival order.
    func all(where predicate: @Sendable (JSONValue) -> Bool) -> [JSONValue] { messages.filter(predicate) }

    /// Polls until a message satisfying `predicate` (after the first `after` messages) has arrived.
    func waitFor(_ seconds: Double = 20, after: Int = 0, where predicate: @escaping @Sendable (JSONValue) -> Bool) async -> JSONValue? {
        await poll(seconds) { $0.messages.dropFirst(after).contains(where: predicate) }
        return messages.dropFirst(after).first(where: predicate)
    }

    /// Polls until `count` messages satisfying `predicate` have arrived; returns those there are.
    func waitForCount(_ count: Int, _ seconds: Double = 20, where predicate: @escaping @Sendable (JSONValue) -> Bool) async -> [JSONValue] {
        await poll(seconds) { $0.messages.filter(predicate).count >= count }
        return messages.filter(predicate)
    }

    /// Polls until the connection is closed.
    func waitClosed(_ seconds: Double = 20) async -> Bool {
        await poll(seconds) { $0.closed }
        return closed
    }

    /// Polls `condition` on this actor every 20 ms until it holds or `seconds` pass (never a fixed sleep).
    private func poll(_ seconds: Double, _ condition: (isolated WSProbe) -> Bool) async {
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        while !condition(self), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Closes with a close frame and waits for the client to finish.
    func close() async {
        if let writer, !closed { try? await writer.close(.normalClosure, reason: nil) }
        await task?.value
    }
}

/// Message predicates and request texts of the WebSocket v2 protocol (/work/notes/ws-protocol.md).
enum WS {
    static func channel(_ name: String, type: String? = nil) -> @Sendable (JSONValue) -> Bool {
        { m in m["channel"]?.stringValue == name && (type == nil || m["type"]?.stringValue == type) }
    }

    static func reply(_ method: String, reqID: Int) -> @Sendable (JSONValue) -> Bool {
        { m in m["method"]?.stringValue == method && m["req_id"]?.numberText == String(reqID) }
    }

    static func subscribe(_ channel: String, token: String, reqID: Int, extra: String = "") -> String {
        #"{"method":"subscribe","params":{"channel":"\#(channel)","token":"\#(token)"\#(extra)},"req_id":\#(reqID)}"#
    }

    static func sequence(_ m: JSONValue) -> Int? { m["sequence"]?.numberText.flatMap { Int($0) } }

    static func item(_ m: JSONValue) -> JSONValue? { m["data"]?.arrayValue?.first }
}
