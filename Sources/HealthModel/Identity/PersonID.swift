import Foundation

// The person index's vocabulary (DESIGN §8, reference §6): the values the person index decides and the
// store applies. They live here, below both, so that neither depends on the other for its words.

/// A person's id in the store (an opaque number; never a personal ID).
public struct PersonID: RawRepresentable, Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    /// The row id.
    public var rawValue: Int64
    /// Wraps a row id.
    public init(rawValue: Int64) { self.rawValue = rawValue }
    /// Wraps a row id.
    public init(_ rawValue: Int64) { self.rawValue = rawValue }
    /// `p<id>`.
    public var description: String { "p\(rawValue)" }
    /// Orders by row id.
    public static func < (a: PersonID, b: PersonID) -> Bool { a.rawValue < b.rawValue }
}

/// A person named in a batch: one that exists, or one the same batch creates (by a batch-local number).
public enum PersonRef: Sendable, Hashable {
    /// A person already in the store.
    case existing(PersonID)
    /// The person created by `IdentityChange.newPerson(local:)` with this number in the same batch.
    case new(local: Int)
}

/// Relations between persons.
public enum RelationKind: String, Sendable, Hashable, Codable, CaseIterable {
    case mother, father, guardian, child, household
}
