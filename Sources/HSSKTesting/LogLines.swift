import ServiceRuntime
import Synchronization

/// Collects the lines a service logs.
public final class LogLines: Sendable {
    private let lines = Mutex<[String]>([])
    /// Nothing logged yet.
    public init() {}
    /// A log writing here.
    public var log: EventLog { EventLog { [self] line in self.lines.withLock { $0.append(line) } } }
    /// Everything logged so far.
    public var all: [String] { lines.withLock { $0 } }
}
