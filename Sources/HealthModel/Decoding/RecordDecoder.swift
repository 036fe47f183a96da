import Foundation

/// A JSON value that validates itself: the source records, and the other values hssk reads
/// (BHXH's acknowledgements), so that all are decoded with the same strictness.
public protocol ValidatedValue: Codable, Sendable {
    /// Every problem of the value, errors and warnings, with JSON paths.
    func validate() -> [ValidationIssue]
}

/// What decoding a message value gave: the record when it could be read, and every issue found.
public struct DecodedRecord<Record: ValidatedValue>: Sendable {
    /// The record, when the JSON had the right shape (it may still carry errors in `issues`).
    public var record: Record?
    /// Decoding and validation issues, errors and warnings.
    public var issues: [ValidationIssue]

    /// True when a record was read and no issue rejects it.
    public var isAccepted: Bool { record != nil && !issues.hasErrors }
}

/// Turns untrusted bytes into records: never throws and never crashes on garbage.
///
/// Steps: parse JSON → refuse NUL anywhere → NFC-normalise every string → decode the canonical form →
/// report unknown fields and `null`s (the schemas are allowlists) → validate.
public enum RecordDecoder {
    /// Largest value accepted, in bytes; a visit with medicines and labs is far below it.
    public static let maxValueBytes = 4 * 1024 * 1024

    /// Decodes and validates one message value as `type`.
    public static func decode<Record: ValidatedValue>(_ data: Data, as type: Record.Type) -> DecodedRecord<Record> {
        var issues = IssueCollector()
        guard data.count <= maxValueBytes else {
            issues.add("$", "json.tooLarge", en: "The value is larger than \(maxValueBytes) bytes.",
                       vi: "Dữ liệu lớn hơn \(maxValueBytes) byte.")
            return DecodedRecord(record: nil, issues: issues.issues)
        }
        if let record = canonicalRecord(data, as: type) {
            return DecodedRecord(record: record, issues: record.validate())
        }
        let raw: JSONValue
        do {
            raw = try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            issues.add("$", "json.malformed", en: "The value is not valid UTF-8 JSON.",
                       vi: "Dữ liệu không phải JSON UTF-8 hợp lệ.")
            return DecodedRecord(record: nil, issues: issues.issues)
        }
        guard case .object = raw else {
            issues.add("$", "json.notObject", en: "The value must be a JSON object.", vi: "Dữ liệu phải là một đối tượng JSON.")
            return DecodedRecord(record: nil, issues: issues.issues)
        }
        // NUL is valid JSON, but the store binds text as C strings, which end there: an episode key
        // "LK-1\u0000x" would be stored as "LK-1". Refused whole, with a code the sender can act on.
        // (The short path above never meets one: it takes no escape but \" and \\.)
        if let path = raw.pathOfNUL() {
            issues.add(path, "json.nulCharacter", en: "Text must not contain the NUL character (\\u0000).",
                       vi: "Nội dung không được chứa ký tự NUL (\\u0000).")
            return DecodedRecord(record: nil, issues: issues.issues)
        }
        let normalized = raw.normalizingText(multilineKeys: TreatmentSummary.multilineKeys)
        let record: Record
        do {
            let bytes = try JSONEncoder().encode(normalized)
            record = try JSONDecoder().decode(Record.self, from: bytes)
        } catch let error as DecodingError {
            issues.add(issue(for: error))
            return DecodedRecord(record: nil, issues: issues.issues)
        } catch {
            issues.add("$", "json.unreadable", en: "The value could not be read.", vi: "Không đọc được dữ liệu.")
            return DecodedRecord(record: nil, issues: issues.issues)
        }
        if let echoed = try? JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(record)) {
            reportUnknownFields(input: normalized, known: echoed, path: "$", into: &issues)
        }
        issues.add(contentsOf: record.validate())
        return DecodedRecord(record: record, issues: issues.issues)
    }

    /// The record when `data` has text that normalising would not change and exactly the members the
    /// record writes back (no unknown field, no `null`, plain numbers): the general path below (five
    /// JSON passes) then gives the same record and issues, so one decode and a census of the member
    /// names suffice — nearly every record a source sends, in whatever key order or spacing.
    static func canonicalRecord<Record: ValidatedValue>(_ data: Data, as type: Record.Type) -> Record? {
        guard hasPlainText(data), let sent = KeyCensus.keys(of: data), let record = try? JSONDecoder().decode(Record.self, from: data),
              KeyCensus.keys(of: record) == sent else { return nil }
        return record
    }

    /// True when every string in compact JSON is already normalised: only scalars below U+0300 (which
    /// NFC leaves alone) or precomposed Vietnamese letters (U+1E00–U+1EFF), no whitespace but single
    /// inner spaces, no escapes but `\"` and `\\`. Conservative: false sends the value the long way.
    static func hasPlainText(_ data: Data) -> Bool {
        data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) -> Bool in
            var previous: UInt8 = 0
            var index = 0
            let count = bytes.count
            while index < count {
                let byte = bytes[index]
                switch byte {
                case 0x20:
                    // Outside strings compact JSON has no spaces: a space is inside one. Leading, trailing
                    // (next to a quote) or doubled spaces would be changed by normalising.
                    if previous == 0x20 || previous == 0x22 { return false }
                    if index + 1 < count, bytes[index + 1] == 0x22 { return false }
                case 0x5C:
                    guard index + 1 < count, bytes[index + 1] == 0x22 || bytes[index + 1] == 0x5C else { return false }
                    index += 1
                case 0x00..<0x20:
                    return false
                case 0xC2:
                    // U+0080–U+00BF: NEL (U+0085) and no-break space (U+00A0) are whitespace.
                    guard index + 1 < count, bytes[index + 1] != 0x85, bytes[index + 1] != 0xA0 else { return false }
                case 0xC3...0xCB:
                    break  // U+00C0–U+02FF
                case 0xE1:
                    // U+1E00–U+1EFF is E1 B8 80 … E1 BB BF.
                    guard index + 1 < count, (0xB8...0xBB).contains(bytes[index + 1]) else { return false }
                case 0xCC...0xFF:
                    return false
                default:
                    break
                }
                previous = bytes[index]
                index += 1
            }
            return true
        }
    }

    /// Decodes a value of the given kind into a `SourceRecord`.
    public static func decode(_ data: Data, kind: RecordKind) -> (record: SourceRecord?, issues: [ValidationIssue]) {
        switch kind {
        case .visit:
            let r = decode(data, as: VisitRecord.self)
            return (r.record.map(SourceRecord.visit), r.issues)
        case .vaccination:
            let r = decode(data, as: VaccinationDose.self)
            return (r.record.map(SourceRecord.vaccination), r.issues)
        case .insuranceCard:
            let r = decode(data, as: InsuranceCardChange.self)
            return (r.record.map(SourceRecord.insuranceCard), r.issues)
        case .registryEvent:
            let r = decode(data, as: RegistryEvent.self)
            return (r.record.map(SourceRecord.registryEvent), r.issues)
        }
    }

    /// A record ingest accepted earlier (a stored original): what `decode` gives, without validating
    /// it again. Text that normalising would not change needs only one JSON pass; unknown fields and
    /// `null`s, which `decode` reports, do not change the record.
    public static func decodeAccepted(_ data: Data, kind: RecordKind) -> SourceRecord? {
        func record<Record: ValidatedValue>(_ type: Record.Type) -> Record? {
            if data.count <= maxValueBytes, hasPlainText(data), let record = try? JSONDecoder().decode(type, from: data) { return record }
            return decode(data, as: type).record
        }
        switch kind {
        case .visit: return record(VisitRecord.self).map(SourceRecord.visit)
        case .vaccination: return record(VaccinationDose.self).map(SourceRecord.vaccination)
        case .insuranceCard: return record(InsuranceCardChange.self).map(SourceRecord.insuranceCard)
        case .registryEvent: return record(RegistryEvent.self).map(SourceRecord.registryEvent)
        }
    }

    /// The canonical JSON of a record (sorted keys, so equal records give equal bytes).
    public static func encode<Record: ValidatedValue>(_ record: Record) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(record)
    }

    /// The canonical JSON of any source record.
    public static func encode(_ record: SourceRecord) throws -> Data {
        switch record {
        case .visit(let r): return try encode(r)
        case .vaccination(let r): return try encode(r)
        case .insuranceCard(let r): return try encode(r)
        case .registryEvent(let r): return try encode(r)
        }
    }

    /// A record that cannot be written as JSON (e.g. a non-finite number): never a silent rejection.
    private static let unwritable = ValidationIssue(path: "$", code: "json.unwritable", severity: .error,
        message: BilingualMessage(en: "The record could not be written as JSON.", vi: "Không ghi được hồ sơ dạng JSON."))

    /// Validates an in-memory record exactly as ingest will read it: the record as ingest will see it,
    /// with the bytes to send, or nil; and every issue. The record is encoded once. When its JSON is
    /// plain text (what `decode` would read back unchanged, as nearly all records are) it is validated
    /// in place; otherwise its JSON goes through `decode`, which normalises it (NFC, spaces), and the
    /// normalised record is encoded again, so that the bytes sent are the canonical form ingest stores.
    public static func canonical(_ record: SourceRecord) -> (canonical: CanonicalRecord?, issues: [ValidationIssue]) {
        guard let json = try? encode(record) else { return (nil, [unwritable]) }
        if json.count <= maxValueBytes, hasPlainText(json) {
            let issues = record.validate()
            return (issues.hasErrors ? nil : CanonicalRecord(record: record, value: Array(json)), issues)
        }
        let decoded = decode(json, kind: record.kind)
        guard let read = decoded.record, !decoded.issues.hasErrors else { return (nil, decoded.issues) }
        guard let normalized = try? encode(read) else { return (nil, decoded.issues + [unwritable]) }
        return (CanonicalRecord(record: read, value: Array(normalized)), decoded.issues)
    }

    /// Validates a JSON value of `kind` from outside (e.g. a JSON Lines line) as ingest will, and writes
    /// its canonical form: one decode, one encode. `record` is the record whenever the JSON could be
    /// read as one, valid or not, so that a rejection names it.
    public static func canonical(json: Data, kind: RecordKind) -> (canonical: CanonicalRecord?, record: SourceRecord?, issues: [ValidationIssue]) {
        let decoded = decode(json, kind: kind)
        guard let record = decoded.record, !decoded.issues.hasErrors else { return (nil, decoded.record, decoded.issues) }
        guard let value = try? encode(record) else { return (nil, record, decoded.issues + [unwritable]) }
        return (CanonicalRecord(record: record, value: Array(value)), record, decoded.issues)
    }

    /// Keys the input has but the decoded record does not write back are unknown (or `null`).
    private static func reportUnknownFields(input: JSONValue, known: JSONValue, path: String, into issues: inout IssueCollector) {
        switch (input, known) {
        case (.object(let i), .object(let k)):
            for key in i.keys.sorted() {
                let childPath = path == "$" ? key : "\(path).\(key)"
                guard let knownChild = k[key] else {
                    if i[key] == .null {
                        issues.add(childPath, "json.null", en: "Omit a field instead of sending null.",
                                   vi: "Bỏ trường này thay vì gửi giá trị null.")
                    } else {
                        issues.add(childPath, "json.unknownField", en: "Unknown field '\(key)'.",
                                   vi: "Trường '\(key)' không có trong lược đồ.")
                    }
                    continue
                }
                if let inputChild = i[key] { reportUnknownFields(input: inputChild, known: knownChild, path: childPath, into: &issues) }
            }
        case (.array(let i), .array(let k)):
            for (index, pair) in zip(i, k).enumerated() {
                reportUnknownFields(input: pair.0, known: pair.1, path: "\(path)[\(index)]", into: &issues)
            }
        default:
            return
        }
    }

    /// Turns a `DecodingError` into an issue with the JSON path of the failing field.
    static func issue(for error: DecodingError) -> ValidationIssue {
        func render(_ path: [any CodingKey]) -> String {
            var out = ""
            for key in path {
                if let i = key.intValue { out += "[\(i)]" } else { out += out.isEmpty ? key.stringValue : ".\(key.stringValue)" }
            }
            return out.isEmpty ? "$" : out
        }
        switch error {
        case .keyNotFound(let key, let context):
            let path = render(context.codingPath + [key])
            return ValidationIssue(path: path, code: "field.missing", severity: .error,
                message: BilingualMessage(en: "Required field \(key.stringValue) is missing.",
                                          vi: "Thiếu trường bắt buộc \(key.stringValue)."))
        case .typeMismatch(let type, let context):
            return ValidationIssue(path: render(context.codingPath), code: "json.typeMismatch", severity: .error,
                message: BilingualMessage(en: "Wrong JSON type: expected \(jsonTypeName(type)).",
                                          vi: "Sai kiểu dữ liệu JSON: cần \(jsonTypeName(type))."))
        case .valueNotFound(let type, let context):
            return ValidationIssue(path: render(context.codingPath), code: "json.null", severity: .error,
                message: BilingualMessage(en: "Value is null, expected \(jsonTypeName(type)).",
                                          vi: "Giá trị null, cần \(jsonTypeName(type))."))
        case .dataCorrupted(let context):
            return ValidationIssue(path: render(context.codingPath), code: "json.invalidValue", severity: .error,
                message: BilingualMessage(en: "Value not allowed here.", vi: "Giá trị không được phép ở trường này."))
        @unknown default:
            return ValidationIssue(path: "$", code: "json.unreadable", severity: .error,
                message: BilingualMessage(en: "The value could not be read.", vi: "Không đọc được dữ liệu."))
        }
    }

    private static func jsonTypeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "string"
        case is Int.Type, is Double.Type, is Decimal.Type: return "number"
        case is Bool.Type: return "boolean"
        default:
            let name = String(describing: type)
            return name.hasPrefix("Array") ? "array" : (name.hasPrefix("Dictionary") ? "object" : "object")
        }
    }
}
