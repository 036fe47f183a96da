import Foundation

/// The person index's match-model settings as stored: the Fellegi–Sunter m/u estimated on this
/// store's data. The store keeps the model as JSON it does not interpret (the `Linkage` module owns
/// its meaning); m/u are probabilities, not personal data, so the row is plain.
public struct StoredMatchModel: Sendable, Hashable {
    /// The name ingest and dedup read (one model per store today).
    public static let personIndex = "person-index"

    /// Which model this is.
    public var name: String
    /// The model's JSON (`MatchModel` encoded).
    public var modelJSON: String
    /// When it was estimated (ISO 8601 UTC).
    public var estimatedAt: String
    /// Pairs the estimate was made from (candidate and random pairs).
    public var pairs: Int

    /// Creates settings to save.
    public init(name: String = StoredMatchModel.personIndex, modelJSON: String, estimatedAt: String, pairs: Int) {
        self.name = name
        self.modelJSON = modelJSON
        self.estimatedAt = estimatedAt
        self.pairs = pairs
    }
}

extension StoreEngine {
    /// Creates or replaces a model's row and audits the change in one transaction.
    func saveMatchModel(_ model: StoredMatchModel, actor: String) throws {
        guard !model.name.isEmpty, model.pairs >= 0 else { throw StoreError.invalidRequest("a match model needs a name and a pair count") }
        try db.transaction {
            let now = Self.timestamp()
            let previous = try db.queryOne("SELECT estimated_at FROM match_model WHERE name = ?", [.text(model.name)])?.text(0)
            try db.execute("""
                INSERT INTO match_model (name, model_json, estimated_at, pairs, saved_by) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (name) DO UPDATE SET model_json = excluded.model_json, estimated_at = excluded.estimated_at,
                  pairs = excluded.pairs, saved_by = excluded.saved_by
                """, [.text(model.name), .text(model.modelJSON), .text(model.estimatedAt), .int(Int64(model.pairs)), .text(actor)])
            // Counts and times only; the m/u themselves are in the row (the audit says who changed what, when).
            try appendAudit(actor: actor, action: "save-match-model", subject: "match_model:\(model.name)",
                            detail: "estimated_at=\(model.estimatedAt) pairs=\(model.pairs) replaced=\(previous ?? "none")", at: now)
        }
    }

    /// A model's stored settings, nil when none were saved.
    func matchModel(named name: String) throws -> StoredMatchModel? {
        try db.queryOne("SELECT name, model_json, estimated_at, pairs FROM match_model WHERE name = ?", [.text(name)]).map { row in
            StoredMatchModel(name: try row.text(0), modelJSON: try row.text(1), estimatedAt: try row.text(2), pairs: Int(try row.int(3)))
        }
    }
}
