/// Birth details: the newborn is linked to the mother before it has a personal ID.
public struct BirthDetails: Codable, Sendable, Hashable {
    /// Birth certificate number (giấy chứng sinh).
    public var birthCertificateNumber: String
    /// The mother, with at least one identifier.
    public var mother: PersonReference
    /// The father, when known.
    public var father: PersonReference?
    /// Birth weight in grams.
    public var birthWeightGrams: Int?
    /// Place of birth (facility code), when born in a facility.
    public var birthFacility: String?

    /// Creates birth details.
    public init(birthCertificateNumber: String, mother: PersonReference, father: PersonReference? = nil,
                birthWeightGrams: Int? = nil, birthFacility: String? = nil) {
        self.birthCertificateNumber = birthCertificateNumber
        self.mother = mother
        self.father = father
        self.birthWeightGrams = birthWeightGrams
        self.birthFacility = birthFacility
    }
}

/// Death details.
public struct DeathDetails: Codable, Sendable, Hashable {
    /// Time of death, possibly partial.
    public var deathTime: String
    /// Cause of death, ICD-10.
    public var causeCode: String?
    /// Place of death as written.
    public var place: String?

    /// Creates death details.
    public init(deathTime: String, causeCode: String? = nil, place: String? = nil) {
        self.deathTime = deathTime
        self.causeCode = causeCode
        self.place = place
    }
}

/// A move into or out of the station's area.
public struct MoveDetails: Codable, Sendable, Hashable {
    /// Address before the move.
    public var from: Address?
    /// Address after the move.
    public var to: Address?

    /// Creates move details.
    public init(from: Address? = nil, to: Address? = nil) {
        self.from = from
        self.to = to
    }
}

/// A demographic correction: the person block holds the corrected values.
public struct CorrectionDetails: Codable, Sendable, Hashable {
    /// Names of the corrected fields of `person`, e.g. `birthDate`.
    public var correctedFields: [String]
    /// Why, e.g. the document the correction is based on.
    public var reason: String

    /// Creates correction details.
    public init(correctedFields: [String], reason: String) {
        self.correctedFields = correctedFields
        self.reason = reason
    }
}

/// A family relation declared on the citizen supplement form.
public struct FamilyRelation: Codable, Sendable, Hashable {
    /// How the related person relates to the subject.
    public enum Relation: String, Codable, Sendable, Hashable, CaseIterable {
        /// Father.
        case father
        /// Mother.
        case mother
        /// Child.
        case child
        /// Spouse.
        case spouse
        /// Legal representative or guardian.
        case guardian
        /// Other relative.
        case other
    }

    /// Relation of `person` to the subject.
    public var relation: Relation
    /// The related person.
    public var person: PersonReference

    /// Creates a relation.
    public init(relation: Relation, person: PersonReference) {
        self.relation = relation
        self.person = person
    }
}

/// The citizen "supplement form" (Quảng Ninh seed): what the person block does not already hold.
public struct CitizenSupplement: Codable, Sendable, Hashable {
    /// Issue date of the personal ID card.
    public var personalIdIssueDate: String?
    /// Issue place of the personal ID card.
    public var personalIdIssuePlace: String?
    /// E-mail.
    public var email: String?
    /// BHYT card number.
    public var insuranceCardCode: String?
    /// Permanent address (thường trú).
    public var permanentAddress: Address?
    /// Temporary address (tạm trú).
    public var temporaryAddress: Address?
    /// Household book number (số hộ khẩu).
    public var householdNumber: String?
    /// Head of household.
    public var householdHead: PersonReference?
    /// Relation of the subject to the household head, as written.
    public var relationToHead: String?
    /// Father, mother, children and others.
    public var relations: [FamilyRelation]?

    /// Creates a supplement.
    public init(personalIdIssueDate: String? = nil, personalIdIssuePlace: String? = nil, email: String? = nil,
                insuranceCardCode: String? = nil, permanentAddress: Address? = nil, temporaryAddress: Address? = nil,
                householdNumber: String? = nil, householdHead: PersonReference? = nil, relationToHead: String? = nil,
                relations: [FamilyRelation]? = nil) {
        self.personalIdIssueDate = personalIdIssueDate
        self.personalIdIssuePlace = personalIdIssuePlace
        self.email = email
        self.insuranceCardCode = insuranceCardCode
        self.permanentAddress = permanentAddress
        self.temporaryAddress = temporaryAddress
        self.householdNumber = householdNumber
        self.householdHead = householdHead
        self.relationToHead = relationToHead
        self.relations = relations
    }
}

/// A new personal ID replacing a cancelled one; the old number stays on record and finds the person.
public struct NewPersonalIDDetails: Codable, Sendable, Hashable {
    /// Why the number was re-issued.
    public enum Reason: String, Codable, Sendable, Hashable, CaseIterable {
        /// Sex re-determination.
        case sexRedetermination
        /// Corrected birth year.
        case birthYearCorrection
        /// Fraud.
        case fraud
        /// Other reason.
        case other
    }

    /// The cancelled number.
    public var oldPersonalId: String
    /// The new number.
    public var newPersonalId: String
    /// Why.
    public var reason: Reason
    /// When the old number was cancelled.
    public var cancelledAt: String?

    /// Creates the details.
    public init(oldPersonalId: String, newPersonalId: String, reason: Reason, cancelledAt: String? = nil) {
        self.oldPersonalId = oldPersonalId
        self.newPersonalId = newPersonalId
        self.reason = reason
        self.cancelledAt = cancelledAt
    }
}
