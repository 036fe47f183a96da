/// Account name of a sender (Hà Nội regulation art. 7): `<facility>_lt_<initials>` for a facility
/// system (interop) or `<facility>_<initials>` for a person doing data entry.
public struct InteropAccountName: Sendable, Hashable, Codable, CustomStringConvertible {
    /// What the account is used for.
    public enum Kind: String, Sendable, Hashable, Codable {
        /// A facility system connecting to the platform, e.g. `01032_lt_bnv`.
        case interop
        /// A person entering data, e.g. `01I29_anv`.
        case dataEntry
    }

    /// The facility the account belongs to.
    public let facility: FacilityCode
    /// Interop or data entry.
    public let kind: Kind
    /// The initials part (lower-case ASCII letters and digits).
    public let initials: String

    /// Parses an account name: facility upper-cased, the rest lower-cased.
    public init(parsing text: String) throws(FieldProblem) {
        // Spaces are not stripped inside: an account name is a credential, "b n" is not "bn".
        let compact = VietnameseText.normalize(text)
        let parts = compact.split(separator: "_", omittingEmptySubsequences: false).map(String.init)
        let bad = FieldProblem("accountName.format",
            en: "Account name must be <facility>_lt_<initials> (interop) or <facility>_<initials> (data entry), e.g. 01032_lt_bnv, 01I29_anv.",
            vi: "Tên tài khoản phải có dạng <mã cơ sở>_lt_<tên viết tắt> (liên thông) hoặc <mã cơ sở>_<tên viết tắt> (nhập liệu), ví dụ 01032_lt_bnv, 01I29_anv.")
        let facility: FacilityCode
        do { facility = try FacilityCode(parsing: parts[0]) } catch { throw bad }
        let rest = parts.dropFirst().map { $0.lowercased() }
        func isInitials(_ s: String) -> Bool {
            !s.isEmpty && s.utf8.allSatisfy { (97...122).contains($0) || (48...57).contains($0) }
        }
        switch rest.count {
        case 1 where isInitials(rest[0]):
            kind = .dataEntry
            initials = rest[0]
        case 2 where rest[0] == "lt" && isInitials(rest[1]):
            kind = .interop
            initials = rest[1]
        default:
            throw bad
        }
        self.facility = facility
    }

    /// The normalised account name.
    public var value: String {
        kind == .interop ? "\(facility.value)_lt_\(initials)" : "\(facility.value)_\(initials)"
    }

    /// The normalised account name.
    public var description: String { value }
}
