import KrakenSimulator
import Logging

/// The operator tests' simulator: one account, ten days of light history, no injected faults, quiet logs.
enum SmallSimulator {
    static func options() -> SimulatorOptions {
        var options = SimulatorOptions()
        options.endSeconds = 1_793_491_200
        options.days = 10
        options.scale = 50
        options.accounts = 1
        options.injections = []
        return options
    }

    static func logger(_ label: String) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = .warning
        return logger
    }
}
