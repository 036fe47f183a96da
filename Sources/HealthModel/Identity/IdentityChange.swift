import Foundation

/// One identity change made by the linker, applied in the batch's transaction.
public enum IdentityChange: Sendable, Hashable {
    /// Creates a person; `local` names it in the rest of the batch and in `ApplyResult.newPersons`.
    case newPerson(local: Int, Demographics)
    /// Replaces a person's demographics.
    case updateDemographics(PersonRef, Demographics)
    /// Adds an identifier; a new personal ID closes the person's previous one (kept, still searchable).
    case addIdentifier(PersonRef, IdentifierEntry)
    /// Adds blocking keys (e.g. "nguyen|van an|1990"); stored only as blind indexes.
    case addBlockingKeys(PersonRef, [String])
    /// Records a relation: `person` has `kind` `other` (e.g. child's mother).
    case relate(PersonRef, RelationKind, PersonRef)
    /// Links an already stored source record (and its derived row) to a person, e.g. after review.
    case linkRecord(sourceRecordID: Int64, PersonRef)
    /// Opens a review task.
    case openReview(ReviewTaskDraft)
}

/// A review task to open: a decision the person index leaves to a human.
public struct ReviewTaskDraft: Sendable, Hashable {
    /// What to decide, e.g. "possibleDuplicate", "personalIdConflict".
    public var kind: String
    /// Persons involved.
    public var persons: [PersonRef]
    /// Why (rule, score); stored encrypted because it may quote personal data.
    public var evidence: String
    /// Creates a draft.
    public init(kind: String, persons: [PersonRef], evidence: String) {
        self.kind = kind
        self.persons = persons
        self.evidence = evidence
    }
}
