/// A population event from a commune health station; key `<station>:<eventId>`.
///
/// `person` is the subject; exactly the detail block matching `kind` is present.
public struct RegistryEvent: HealthRecord {
    /// Schema version of the canonical form.
    public static let currentSchemaVersion = 1
    /// Records of this type are registry events.
    public static let kind = RecordKind.registryEvent

    /// What happened.
    public enum EventKind: String, Codable, Sendable, Hashable, CaseIterable {
        /// A newborn (detail block `birth`).
        case birth
        /// A death (`death`).
        case death
        /// Moved into the area (`move`).
        case movedIn
        /// Moved out of the area (`move`).
        case movedOut
        /// Corrected demographics (`correction`).
        case demographicCorrection
        /// The citizen supplement form (`supplement`).
        case citizenSupplement
        /// A new personal ID replacing a cancelled one (`newPersonalId`).
        case newPersonalIdIssued

        /// The JSON key of the detail block this kind requires.
        public var detailKey: String {
            switch self {
            case .birth: return "birth"
            case .death: return "death"
            case .movedIn, .movedOut: return "move"
            case .demographicCorrection: return "correction"
            case .citizenSupplement: return "supplement"
            case .newPersonalIdIssued: return "newPersonalId"
            }
        }
    }

    /// Canonical schema version, `1`.
    public var schemaVersion: Int
    /// Facility code of the commune health station; the sender must own it.
    public var stationCode: String
    /// The station system's own event id.
    public var eventId: String
    /// What happened.
    public var kind: EventKind
    /// When it happened, possibly partial.
    public var occurredAt: String
    /// The subject.
    public var person: PersonDetails
    /// Birth details (kind `birth`).
    public var birth: BirthDetails?
    /// Death details (kind `death`).
    public var death: DeathDetails?
    /// Move details (kinds `movedIn`, `movedOut`).
    public var move: MoveDetails?
    /// Correction details (kind `demographicCorrection`).
    public var correction: CorrectionDetails?
    /// Supplement form (kind `citizenSupplement`).
    public var supplement: CitizenSupplement?
    /// New personal ID details (kind `newPersonalIdIssued`).
    public var newPersonalId: NewPersonalIDDetails?

    /// Creates an event; set the detail block afterwards.
    public init(stationCode: String, eventId: String, kind: EventKind, occurredAt: String, person: PersonDetails) {
        schemaVersion = Self.currentSchemaVersion
        self.stationCode = stationCode
        self.eventId = eventId
        self.kind = kind
        self.occurredAt = occurredAt
        self.person = person
    }

    /// `<station>:<eventId>`.
    public var kafkaKey: String {
        keyPart(stationCode) { s throws(FieldProblem) in try FacilityCode(parsing: s).value } + ":" + eventId
    }

    /// The sender must own the station.
    public var senderScope: SenderScope {
        .facility(keyPart(stationCode) { s throws(FieldProblem) in try FacilityCode(parsing: s).value })
    }

    /// Which detail blocks are present, by JSON key.
    var presentDetailKeys: [String] {
        [("birth", birth != nil), ("death", death != nil), ("move", move != nil), ("correction", correction != nil),
         ("supplement", supplement != nil), ("newPersonalId", newPersonalId != nil)].filter(\.1).map(\.0)
    }
}
