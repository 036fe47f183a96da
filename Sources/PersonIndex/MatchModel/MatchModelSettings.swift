import Foundation
import Linkage
import RecordStore
import ServiceRuntime

/// The match model ingest and `hssk dedup` score with: the store's EM estimate when one was saved
/// (`hssk dedup --estimate`), else `MatchModel.defaults`. Read once at start: a new estimate is picked
/// up by the next start of the service.
public struct MatchModelSettings: Sendable, Hashable {
    /// Where the model came from.
    public enum Source: String, Sendable, Hashable {
        /// Estimated on the store's data and saved there.
        case stored
        /// The documented built-in values.
        case defaults
    }

    /// The model to score with.
    public var model: MatchModel
    /// Where it came from.
    public var source: Source
    /// When the stored model was estimated (nil for the defaults).
    public var estimatedAt: String?
    /// Pairs the stored model was estimated from (nil for the defaults).
    public var pairs: Int?
    /// Why a stored model was not used, when one exists but is unreadable or unsound.
    public var rejected: String?

    /// The built-in defaults.
    public static let defaults = MatchModelSettings(model: .defaults, source: .defaults, estimatedAt: nil, pairs: nil, rejected: nil)

    /// Reads the store's model. A stored model that does not decode or fails `MatchModel.degeneracies`
    /// (written by hand, or by a future version) is not used: the defaults are, and `rejected` says why.
    public static func load(from store: any PersonIndexStore) async throws -> MatchModelSettings {
        guard let stored = try await store.matchModel() else { return .defaults }
        let model: MatchModel
        do {
            model = try JSONDecoder().decode(MatchModel.self, from: Data(stored.modelJSON.utf8))
        } catch {
            return MatchModelSettings(model: .defaults, source: .defaults, estimatedAt: stored.estimatedAt, pairs: stored.pairs,
                                      rejected: "the stored model does not decode")
        }
        let problems = model.degeneracies()
        guard problems.isEmpty else {
            return MatchModelSettings(model: .defaults, source: .defaults, estimatedAt: stored.estimatedAt, pairs: stored.pairs,
                                      rejected: "the stored model is unsound: " + problems.joined(separator: "; "))
        }
        return MatchModelSettings(model: model, source: .stored, estimatedAt: stored.estimatedAt, pairs: stored.pairs, rejected: nil)
    }

    /// Writes the `matchModel.loaded` line: which model `component` scores with (a warning when a
    /// stored model was rejected). No personal data: the source, the estimate's time and pair count.
    public func log(_ log: EventLog, component: String) {
        var fields: [String: LogValue] = ["component": .text(component), "source": .text(source.rawValue)]
        if let estimatedAt { fields["estimated_at"] = .text(estimatedAt) }
        if let pairs { fields["pairs"] = .int(Int64(pairs)) }
        if let rejected { fields["rejected"] = .text(rejected) }
        log.event(rejected == nil ? .info : .warning, "matchModel.loaded", fields)
    }

    /// The JSON the store keeps for a model (sorted keys: the same model is always the same text).
    static func json(_ model: MatchModel) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(model), as: UTF8.self)
    }
}
