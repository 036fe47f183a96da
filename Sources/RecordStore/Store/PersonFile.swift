import Foundation
import HealthModel

/// Everything the store holds about one person, from one consistent snapshot (see
/// `HealthRecordStore.personFile`): what the feed publisher builds a citizen document from.
public struct PersonFile: Sendable, Hashable {
    /// The person, with demographics and identifiers (active and historic).
    public var person: StoredPerson
    /// The person's current source records (superseded versions left out), oldest first.
    public var records: [PersonRecord]
    /// Relations in both directions (`person` has `kind` `other`).
    public var relations: [PersonRelation]
    /// Every other person named in `relations`.
    public var related: [PersonID: StoredPerson]
}

/// A current source record of a person: the original bytes, decrypted, and where they came from.
public struct PersonRecord: Sendable, Hashable {
    /// Row id (grows with arrival).
    public var id: Int64
    /// Kind of record; decode `original` with `RecordDecoder.decode(_:kind:)`.
    public var kind: RecordKind
    /// The message value exactly as received.
    public var original: [UInt8]
    /// Where it was read.
    public var coordinates: KafkaCoordinates
    /// Sender account.
    public var sender: String
    /// Version of its source key, from 1.
    public var version: Int
}

extension StoreEngine {
    /// Reads a person's file in one snapshot, so that a merge committed meanwhile by another process
    /// cannot leave the file half before and half after it.
    func personFile(_ id: PersonID) throws -> PersonFile? {
        try readSnapshot { () -> PersonFile? in
            guard let subject = try person(id) else { return nil }
            var records: [PersonRecord] = []
            for row in try db.query("""
                SELECT id, kind, original_enc, topic, kafka_partition, kafka_offset, sender, version FROM source_record
                WHERE person_id = ? AND superseded_by IS NULL ORDER BY id
                """, [.int(id.rawValue)]) {
                // A kind this version does not know is left out rather than failing the whole file.
                guard let kind = RecordKind(rawValue: try row.text(1)) else { continue }
                records.append(PersonRecord(id: try row.int(0), kind: kind,
                                            original: try cipher.open(try row.blob(2), column: "source_record.original_enc", row: .id(try row.int(0))),
                                            coordinates: KafkaCoordinates(topic: try row.text(3), partition: Int32(try row.int(4)), offset: try row.int(5)),
                                            sender: try row.text(6), version: Int(try row.int(7))))
            }
            let relations = try relations(of: id)
            var related: [PersonID: StoredPerson] = [:]
            for relation in relations {
                for other in [relation.person, relation.other] where other != id && related[other] == nil {
                    related[other] = try person(other)
                }
            }
            return PersonFile(person: subject, records: records, relations: relations, related: related)
        }
    }

    /// Runs `body` in a read-only transaction: one snapshot for all its queries, no write lock taken
    /// (SQLite: a deferred transaction that only reads; PostgreSQL: REPEATABLE READ, READ ONLY).
    ///
    /// `byIndex`: on PostgreSQL, sequential scans are off for the transaction, as in a write (see
    /// `PostgresConnection.beginWrite`): batch look-ups by blind index on a young table without
    /// statistics were planned as full scans, which made every batch's look-up slower as the store grew.
    func readSnapshot<T>(byIndex: Bool = false, _ body: () throws -> T) throws -> T {
        switch db.dialect {
        case .sqlite: try db.executeScript("BEGIN DEFERRED")
        case .postgres: try db.executeScript("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" + (byIndex ? "; SET LOCAL enable_seqscan = off" : ""))
        }
        do {
            let value = try body()
            try db.commit()
            return value
        } catch {
            db.rollback()
            throw error
        }
    }
}
