/// Status of a finding.
public enum FindingStatus: String, Sendable, CaseIterable {
    case open, acknowledged, resolved, suppressed
}
