/// Account name of a sender (Hà Nội regulation art. 7): `<facility>_lt_<initials>` for a facility
/// system (interop) or `<facility>_<initials>` for a person doing data entry. Vietnam Social Security's
/// systems, which have no facility code, use `bhxh_lt_<initials>`.
public struct InteropAccountName: Sendable, Hashable, Codable, CustomStringConvertible {
    /// What the account is used for.
    public enum Kind: String, Sendable, Hashable, Codable {
        /// A facility system connecting to the platform, e.g. `01032_lt_bnv`.
        case interop
        /// A person entering data, e.g. `01I29_anv`.
        case dataEntry
        /// A Vietnam Social Security (BHXH) system, e.g. `bhxh_lt_hn`: sends insurance card changes only.
        case socialSecurity
    }

    /// The prefix of Vietnam Social Security accounts.
    public static let socialSecurityPrefix = "bhxh"

    /// The facility the account belongs to; nil for a Social Security account.
    public let facility: FacilityCode?
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
        let rest = parts.dropFirst().map { $0.lowercased() }
        func isInitials(_ s: String) -> Bool {
            !s.isEmpty && s.utf8.allSatisfy { (97...122).contains($0) || (48...57).contains($0) }
        }
        if parts[0].lowercased() == Self.socialSecurityPrefix {
            guard rest.count == 2, rest[0] == "lt", isInitials(rest[1]) else { throw bad }
            kind = .socialSecurity
            initials = rest[1]
            facility = nil
            return
        }
        let facility: FacilityCode
        do { facility = try FacilityCode(parsing: parts[0]) } catch { throw bad }
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
        switch kind {
        case .interop: return "\(facility?.value ?? "")_lt_\(initials)"
        case .dataEntry: return "\(facility?.value ?? "")_\(initials)"
        case .socialSecurity: return "\(Self.socialSecurityPrefix)_lt_\(initials)"
        }
    }

    /// What this account may not send: nil when a record of `scope` is its to send (DESIGN §9).
    public func problem(sending scope: SenderScope) -> FieldProblem? {
        switch (scope, kind) {
        case (.socialSecurity, .socialSecurity):
            return nil
        case (.socialSecurity, _):
            return FieldProblem("sender.notSocialSecurity",
                en: "Only a Vietnam Social Security account (bhxh_lt_…) may send insurance card changes; \(value) is not one.",
                vi: "Chỉ tài khoản của BHXH Việt Nam (bhxh_lt_…) được gửi thay đổi thẻ BHYT; \(value) không phải tài khoản BHXH.")
        case (.facility(let code), _):
            guard let facility, facility.value == code else {
                let own = facility?.value ?? Self.socialSecurityPrefix.uppercased()
                return FieldProblem("sender.facilityMismatch",
                    en: "Account \(value) may only send records of facility \(own), not \(code).",
                    vi: "Tài khoản \(value) chỉ được gửi hồ sơ của cơ sở \(own), không phải \(code).")
            }
            return nil
        }
    }

    /// The normalised account name.
    public var description: String { value }
}
