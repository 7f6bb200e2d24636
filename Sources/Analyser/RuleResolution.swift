/// How a rule's findings get resolved (`-- resolves:` header line).
public enum RuleResolution: String, Sendable, CaseIterable {
    /// By an analyst (`kraken-audit findings resolve`): the finding is about an event that happened.
    case manually
    /// Also by the analyser: the rule checks a state and returns every condition that holds for the account on
    /// each run, so a finding of the account it no longer returns is resolved automatically (see ``Analyser``).
    case whenAbsent = "when_absent"
}
