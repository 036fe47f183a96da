/// A validated record with the bytes a publisher sends for it: its canonical JSON (sorted keys, NFC),
/// which ingest decodes back to the same record (`RecordDecoder.canonical`).
public struct CanonicalRecord: Sendable, Hashable {
    /// The record as ingest will read it.
    public let record: SourceRecord
    /// Its canonical JSON.
    public let value: [UInt8]
}
