import Foundation

/// Demographics kept (encrypted) on a person.
public struct Demographics: Sendable, Hashable, Codable {
    /// Full name, NFC.
    public var fullName: String
    /// Birth date, possibly partial (ISO form).
    public var birthDate: String?
    /// 1 male, 2 female, 3 undetermined.
    public var sex: Int?
    /// Mobile phone.
    public var phone: String?
    /// Address text.
    public var address: String?
    /// Commune code of the residence (compared and blocked on by the person index).
    public var communeCode: String?
    /// Creates demographics.
    public init(fullName: String, birthDate: String? = nil, sex: Int? = nil, phone: String? = nil, address: String? = nil,
                communeCode: String? = nil) {
        self.fullName = fullName
        self.birthDate = birthDate
        self.sex = sex
        self.phone = phone
        self.address = address
        self.communeCode = communeCode
    }
}
