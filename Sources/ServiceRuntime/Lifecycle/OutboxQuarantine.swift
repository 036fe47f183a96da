import Foundation
import HealthModel
import RecordStore

/// The outbox rows of one round that their reader cannot process, by reason code (DESIGN §6: one bad
/// row is quarantined, never a stop). The feed publisher and the insurance sync collect them while
/// they work and quarantine them in the store (never retried), log each one with its id and code
/// (no personal data) and count them; the other rows go on.
package struct OutboxQuarantine {
    /// The row's payload failed authentication (altered, or written under another key).
    static let unreadableRow = "outbox.unreadable"
    /// The row's key is not a person id.
    static let badKey = "outbox.badKey"
    /// The person the row names cannot be read (a damaged ciphertext or stored value of theirs).
    package static let unreadablePerson = "person.unreadable"

    /// Row ids by reason code.
    private(set) var rows: [String: [Int64]] = [:]

    /// Nothing collected yet.
    package init() {}

    /// True when nothing was collected.
    var isEmpty: Bool { rows.isEmpty }

    /// Every collected row id.
    package var ids: Set<Int64> { Set(rows.values.joined()) }

    /// Collects `ids` under `code`.
    package mutating func add(_ ids: [Int64], _ code: String) {
        guard !ids.isEmpty else { return }
        rows[code, default: []] += ids
    }

    /// The person a pending row is about; nil once the row is collected (unreadable, or its key is
    /// not a person id).
    package mutating func person(of entry: OutboxEntry) -> PersonID? {
        if entry.problem != nil {
            add([entry.id], Self.unreadableRow)
            return nil
        }
        // Keys are person ids written by the store.
        guard let id = Int64(entry.key) else {
            add([entry.id], Self.badKey)
            return nil
        }
        return PersonID(id)
    }

    /// Quarantines the collected rows in the store as `actor`, logs one `event` line per row, and
    /// returns how many rows each code took out of the pending set. A transient store failure is
    /// thrown: the caller's round is retried, finds the same rows and quarantines them then.
    package func commit(to store: any OutboxStore, actor: String, log: EventLog, event: String) async throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for (code, ids) in rows.sorted(by: { $0.key < $1.key }) {
            counts[code] = try await store.quarantineOutbox(ids, code: code, actor: actor)
            for id in ids.sorted() { log.event(.warning, event, ["id": .int(id), "code": .text(code)]) }
        }
        return counts
    }
}
