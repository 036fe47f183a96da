/// Exponential back-off with jitter, the one retry schedule of every service: retry number n (0-based)
/// has the ceiling min(cap, base·2ⁿ) and waits a random part of it, so that many clients failing
/// together do not retry in lockstep.
public struct RetryPolicy: Sendable {
    /// Which part of the ceiling a wait takes.
    public enum Jitter: Sendable {
        /// Anywhere in [0, ceiling]: consumers of one store or cluster spread out the most.
        case full
        /// In [ceiling/2, ceiling]: a remote endpoint always gets at least half the wait (the feed).
        case half
    }

    /// First ceiling.
    public var base: Duration = .milliseconds(100)
    /// Largest ceiling.
    public var cap: Duration = .seconds(10)
    /// Which part of the ceiling a wait takes.
    public var jitter: Jitter = .full

    /// Creates a policy.
    public init(base: Duration = .milliseconds(100), cap: Duration = .seconds(10), jitter: Jitter = .full) {
        self.base = base
        self.cap = cap
        self.jitter = jitter
    }

    /// The wait before retry number `attempt` (0-based).
    public func delay(attempt: Int) -> Duration {
        let ceiling = min(cap, base * (1 << min(max(attempt, 0), 30)))
        switch jitter {
        case .full:
            let millis = ceiling.components.seconds * 1000 + ceiling.components.attoseconds / 1_000_000_000_000_000
            return .milliseconds(Int64.random(in: 0...max(millis, 1)))
        case .half:
            return ceiling * Double.random(in: 0.5...1.0)
        }
    }
}
