/// The four kinds of record senders publish, one per source topic.
public enum RecordKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// A finished visit or treatment episode from a hospital or clinic (XML 130 table 1).
    case visit
    /// A vaccine dose from the immunization system.
    case vaccination
    /// An insurance card change from Vietnam Social Security (BHXH).
    case insuranceCard
    /// A population event from a commune health station.
    case registryEvent

    /// CloudEvents `ce_type` of this kind's records.
    public var ceType: String {
        switch self {
        case .visit: return CloudEventTypes.visit
        case .vaccination: return CloudEventTypes.vaccination
        case .insuranceCard: return CloudEventTypes.insuranceCard
        case .registryEvent: return CloudEventTypes.registryEvent
        }
    }

    /// The kind a `ce_type` header names, if any.
    public init?(ceType: String) {
        guard let kind = Self.allCases.first(where: { $0.ceType == ceType }) else { return nil }
        self = kind
    }
}

/// Who may send a record: the code the authenticated sender account must own.
public enum SenderScope: Sendable, Hashable {
    /// The sender account's facility (see `InteropAccountName.facility`) must be this code.
    case facility(String)
    /// Only a Vietnam Social Security (BHXH) account may send it; no facility code applies.
    case socialSecurity
}

/// A record published on a source topic: canonical JSON, full validation, Kafka key and sender scope.
public protocol HealthRecord: ValidatedValue, Hashable {
    /// Which kind of record this is.
    static var kind: RecordKind { get }
    /// The canonical JSON schema version this code writes and reads.
    static var currentSchemaVersion: Int { get }
    /// The schema version the record says it follows.
    var schemaVersion: Int { get }
    /// Every problem of the record, errors and warnings, with JSON paths.
    func validate() -> [ValidationIssue]
    /// The Kafka message key: same key ⇒ same record (a later version supersedes).
    var kafkaKey: String { get }
    /// The code the authenticated sender must own.
    var senderScope: SenderScope { get }
}

extension HealthRecord {
    /// Validates and says whether the record is accepted (no errors).
    public var isValid: Bool { !validate().hasErrors }
}

/// Any source record, for code that handles all four topics alike.
public enum SourceRecord: Sendable, Hashable {
    /// A visit.
    case visit(VisitRecord)
    /// A vaccine dose.
    case vaccination(VaccinationDose)
    /// An insurance card change.
    case insuranceCard(InsuranceCardChange)
    /// A registry event.
    case registryEvent(RegistryEvent)

    /// The wrapped record.
    public var record: any HealthRecord {
        switch self {
        case .visit(let r): return r
        case .vaccination(let r): return r
        case .insuranceCard(let r): return r
        case .registryEvent(let r): return r
        }
    }

    /// The person the record is about (patient, vaccinee, card holder, registry subject).
    public var subject: PersonDetails {
        switch self {
        case .visit(let r): return r.patient
        case .vaccination(let r): return r.person
        case .insuranceCard(let r): return r.holder
        case .registryEvent(let r): return r.person
        }
    }

    /// The record's kind.
    public var kind: RecordKind { type(of: record).kind }
    /// The record's Kafka key.
    public var kafkaKey: String { record.kafkaKey }
    /// The code the sender must own.
    public var senderScope: SenderScope { record.senderScope }
    /// Every problem of the record.
    public func validate() -> [ValidationIssue] { record.validate() }
}

/// Normalised form of a code for keys: the parsed value when valid, else the trimmed input.
func keyPart(_ raw: String, _ parse: (String) throws(FieldProblem) -> String) -> String {
    (try? parse(raw)) ?? VietnameseText.normalize(raw)
}

extension IssueCollector {
    /// Checks the record's `schemaVersion` against the version this code understands.
    mutating func schemaVersion(_ version: Int, expected: Int) {
        if version != expected {
            add("schemaVersion", "schemaVersion.unsupported",
                en: "schemaVersion \(version) is not supported; this topic takes version \(expected).",
                vi: "schemaVersion \(version) không được hỗ trợ; topic này dùng phiên bản \(expected).")
        }
    }
}
