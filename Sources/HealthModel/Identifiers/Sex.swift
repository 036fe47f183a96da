/// Sex as XML 130 codes it (GIOI_TINH).
public enum Sex: Int, Sendable, Hashable, Codable, CaseIterable {
    /// 1 — nam.
    case male = 1
    /// 2 — nữ.
    case female = 2
    /// 3 — chưa xác định.
    case undetermined = 3
}
