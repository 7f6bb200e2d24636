import Foundation
import KrakenAPI

/// Fault switches: which configured faults fire for a request (seeded, counted or by rate).
extension SimulatorState {
    /// Adds a fault switch.
    public func addFault(_ rule: FaultRule) { faults.append(rule) }

    /// Removes fault switches (all, or those of `kind`).
    public func clearFaults(kind: FaultKind? = nil) { faults.removeAll { kind == nil || $0.kind == kind } }

    /// Active fault switches.
    public var activeFaults: [FaultRule] { faults }

    private func eligible(_ rule: FaultRule, method: String) -> Bool { rule.methods?.contains(method) ?? true }

    /// Whether a rule of `kind` fires for this request (count rules first consume their count).
    func drawFault(_ kind: FaultKind, method: String) -> Bool {
        for i in faults.indices where faults[i].kind == kind && eligible(faults[i], method: method) {
            if fire(at: i) { return true }
        }
        return false
    }

    private func fire(at i: Int) -> Bool {
        if let c = faults[i].count {
            if c <= 1 { faults.remove(at: i) } else { faults[i].count = c - 1 }
            return true
        }
        return faultRNG.chance(faults[i].rate)
    }

    func drawResponseFault(method: String) -> FaultKind? {
        for i in faults.indices where faults[i].kind.replacesResponse && eligible(faults[i], method: method) {
            let kind = faults[i].kind
            if fire(at: i) { return kind }
        }
        return nil
    }
}
