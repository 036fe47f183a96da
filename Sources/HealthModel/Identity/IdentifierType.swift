import Foundation

/// Kinds of identifier a person may have (reference §2).
public enum IdentifierType: String, Sendable, Hashable, Codable, CaseIterable {
    /// Types a person holds one active value of: two different values are two people (or a re-issue).
    public static let singleValued: Set<IdentifierType> = [.personalId, .bhxhNumber, .birthCertificate, .immunizationCode]

    /// 12-digit personal ID (số định danh cá nhân); unique while active.
    case personalId
    /// Old CMND number.
    case legacyId
    /// Passport number.
    case passport
    /// Temporary code of an unidentified person.
    case temporaryCode
    /// 10-digit BHXH number.
    case bhxhNumber
    /// National immunization code.
    case immunizationCode
    /// A facility's local patient id, as `<facility>:<id>`.
    case facilityPatientId
    /// Birth certificate number.
    case birthCertificate
    /// Mobile phone (shared by families: never unique).
    case phone
}

/// An identifier to attach to a person.
public struct IdentifierEntry: Sendable, Hashable {
    /// Kind of identifier.
    public var type: IdentifierType
    /// The normalised value (callers normalise with HealthModel's parsers).
    public var value: String
    /// First day it is valid (ISO date or timestamp); defaults to now.
    public var validFrom: String?
    /// Where it came from (e.g. a source key or "manual").
    public var source: String

    /// Creates an entry.
    public init(_ type: IdentifierType, _ value: String, validFrom: String? = nil, source: String) {
        self.type = type
        self.value = value
        self.validFrom = validFrom
        self.source = source
    }
}

/// An identifier value of one type, as a look-up key.
public struct IdentifierKey: Sendable, Hashable {
    /// Kind of identifier.
    public var type: IdentifierType
    /// Normalised value.
    public var value: String
    /// Creates a key.
    public init(_ type: IdentifierType, _ value: String) {
        self.type = type
        self.value = value
    }
}
