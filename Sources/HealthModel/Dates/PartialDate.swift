/// A date known to year, month, day or minute: XML 130 writes unknown parts as `00`/`0000`.
///
/// Many older people have a birth year only; a missing day is never invented. There is no time zone:
/// XML 130 times are local (Vietnam) wall-clock times.
public struct PartialDate: Sendable, Hashable, Codable, CustomStringConvertible, Comparable {
    /// How much of the date is known.
    public enum Precision: Int, Sendable, Hashable, Comparable, Codable {
        /// Year only (`1958`).
        case year
        /// Year and month (`1958-03`).
        case month
        /// Calendar day (`1958-03-07`).
        case day
        /// Day and wall-clock minute (`1958-03-07T14:30`).
        case minute

        /// Orders from least to most precise.
        public static func < (lhs: Precision, rhs: Precision) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// Four-digit year.
    public let year: Int
    /// 1–12 when known.
    public let month: Int?
    /// 1–31 when known (only with a month).
    public let day: Int?
    /// 0–23 when known (only with a day).
    public let hour: Int?
    /// 0–59 when known (only with an hour).
    public let minute: Int?

    /// Creates a date, checking the calendar (e.g. no 30 February) and that parts are known left to right.
    public init(year: Int, month: Int? = nil, day: Int? = nil, hour: Int? = nil, minute: Int? = nil) throws(FieldProblem) {
        guard (1...9999).contains(year) else { throw Self.invalid("year \(year) out of range", "năm \(year) không hợp lệ") }
        if day != nil && month == nil || hour != nil && day == nil || (hour == nil) != (minute == nil) {
            throw Self.invalid("a part is known while a larger part is not", "thiếu phần ngày/tháng/giờ ở giữa")
        }
        if let month, !(1...12).contains(month) { throw Self.invalid("month \(month) out of range", "tháng \(month) không hợp lệ") }
        if let month, let day, !(1...Self.daysIn(month: month, year: year)).contains(day) {
            throw Self.invalid("day \(day) does not exist in \(year)-\(month)", "ngày \(day) không tồn tại trong tháng \(month)/\(year)")
        }
        if let hour, !(0...23).contains(hour) { throw Self.invalid("hour \(hour) out of range", "giờ \(hour) không hợp lệ") }
        if let minute, !(0...59).contains(minute) { throw Self.invalid("minute \(minute) out of range", "phút \(minute) không hợp lệ") }
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
    }

    /// Builds a constant from parts known to be valid, without the calendar check (no force-try needed).
    init(trustedYear year: Int, month: Int? = nil, day: Int? = nil) {
        self.year = year
        self.month = month
        self.day = day
        self.hour = nil
        self.minute = nil
    }

    /// Parses the canonical JSON form: `1958`, `1958-03`, `1958-03-07` or `1958-03-07T14:30`.
    public init(iso text: String) throws(FieldProblem) {
        let s = Array(text.utf8)
        func digits(_ r: Range<Int>) -> Int? {
            guard r.upperBound <= s.count else { return nil }
            var v = 0
            for i in r {
                guard (48...57).contains(s[i]) else { return nil }
                v = v * 10 + Int(s[i] - 48)
            }
            return v
        }
        func sep(_ i: Int, _ c: UInt8) -> Bool { i < s.count && s[i] == c }
        // Made only when thrown: the person index parses the birth date of every candidate it compares.
        func bad() -> FieldProblem {
            FieldProblem("date.format",
                en: "'\(text)' is not a date of the form YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDTHH:MM.",
                vi: "'\(text)' không đúng định dạng ngày YYYY, YYYY-MM, YYYY-MM-DD hoặc YYYY-MM-DDTHH:MM.")
        }
        guard let y = digits(0..<4) else { throw bad() }
        switch s.count {
        case 4: try self.init(year: y)
        case 7:
            guard sep(4, 45), let m = digits(5..<7) else { throw bad() }
            try self.init(year: y, month: m)
        case 10:
            guard sep(4, 45), sep(7, 45), let m = digits(5..<7), let d = digits(8..<10) else { throw bad() }
            try self.init(year: y, month: m, day: d)
        case 16:
            guard sep(4, 45), sep(7, 45), sep(10, 84), sep(13, 58),
                  let m = digits(5..<7), let d = digits(8..<10), let h = digits(11..<13), let mi = digits(14..<16)
            else { throw bad() }
            try self.init(year: y, month: m, day: d, hour: h, minute: mi)
        default: throw bad()
        }
    }

    /// Parses XML 130 `yyyymmdd` or `yyyymmddHHMM`; `00` day/month and `0000` time mean unknown.
    public init(xml130 text: String) throws(FieldProblem) {
        let bad = FieldProblem("date.xml130Format",
            en: "'\(text)' is not an XML 130 date (yyyymmdd or yyyymmddHHMM).",
            vi: "'\(text)' không đúng định dạng ngày XML 130 (yyyymmdd hoặc yyyymmddHHMM).")
        let s = Array(text.utf8)
        guard s.count == 8 || s.count == 12, s.allSatisfy({ (48...57).contains($0) }) else { throw bad }
        func n(_ a: Int, _ b: Int) -> Int { s[a..<b].reduce(0) { $0 * 10 + Int($1 - 48) } }
        let (y, m, d) = (n(0, 4), n(4, 6), n(6, 8))
        if m == 0 && d != 0 {
            throw FieldProblem("date.unknownMonthKnownDay",
                en: "'\(text)' has an unknown month (00) but a known day.",
                vi: "'\(text)' có tháng không rõ (00) nhưng lại có ngày.")
        }
        var hour: Int?
        var minute: Int?
        if s.count == 12, n(8, 12) != 0 {
            // "0000" is how XML 130 says the time is unknown, so a real midnight cannot be expressed.
            guard d != 0 else {
                throw FieldProblem("date.timeWithoutDay",
                    en: "'\(text)' has a time but no day.", vi: "'\(text)' có giờ nhưng không có ngày.")
            }
            hour = n(8, 10)
            minute = n(10, 12)
        }
        try self.init(year: y, month: m == 0 ? nil : m, day: d == 0 ? nil : d, hour: hour, minute: minute)
    }

    /// Parses either the canonical form or the XML 130 form.
    public init(parsing text: String) throws(FieldProblem) {
        let trimmed = VietnameseText.normalize(text)
        if trimmed.utf8.count == 8 || trimmed.utf8.count == 12, trimmed.utf8.allSatisfy({ (48...57).contains($0) }) {
            try self.init(xml130: trimmed)
        } else {
            try self.init(iso: trimmed)
        }
    }

    /// How much of the date is known.
    public var precision: Precision {
        if minute != nil { return .minute }
        if day != nil { return .day }
        if month != nil { return .month }
        return .year
    }

    /// Canonical JSON form, as precise as known.
    public var isoString: String {
        var out = pad(year, 4)
        if let month { out += "-" + pad(month, 2) }
        if let day { out += "-" + pad(day, 2) }
        if let hour, let minute { out += "T" + pad(hour, 2) + ":" + pad(minute, 2) }
        return out
    }

    /// XML 130 form `yyyymmddHHMM` with `00`/`0000` for unknown parts.
    public var xml130String: String {
        pad(year, 4) + pad(month ?? 0, 2) + pad(day ?? 0, 2) + pad(hour ?? 0, 2) + pad(minute ?? 0, 2)
    }

    /// The canonical form.
    public var description: String { isoString }

    /// This date cut to a coarser precision (never finer: that would invent parts).
    public func truncated(to precision: Precision) -> PartialDate {
        guard precision < self.precision else { return self }
        // Cutting known-valid parts keeps the calendar valid, so the initialiser cannot fail here.
        return (try? PartialDate(
            year: year,
            month: precision >= .month ? month : nil,
            day: precision >= .day ? day : nil,
            hour: precision >= .minute ? hour : nil,
            minute: precision >= .minute ? minute : nil)) ?? self
    }

    /// True when both dates could be the same moment: every part known in both agrees.
    public func isCompatible(with other: PartialDate) -> Bool {
        let p = min(precision, other.precision)
        return truncated(to: p) == other.truncated(to: p)
    }

    /// True when every moment this date could be is strictly before every moment `other` could be.
    public func isDefinitelyBefore(_ other: PartialDate) -> Bool { upperBound < other.lowerBound }

    /// Orders by the earliest moment each date could be, then by precision (coarser first).
    public static func < (lhs: PartialDate, rhs: PartialDate) -> Bool {
        lhs.lowerBound != rhs.lowerBound ? lhs.lowerBound < rhs.lowerBound : lhs.precision < rhs.precision
    }

    /// Minutes since year 0 of the earliest moment covered, as a sortable number.
    var lowerBound: Int { Self.ordinal(year, month ?? 1, day ?? 1, hour ?? 0, minute ?? 0) }

    /// Same for the latest moment covered.
    var upperBound: Int {
        let m = month ?? 12
        return Self.ordinal(year, m, day ?? Self.daysIn(month: m, year: year), hour ?? 23, minute ?? 59)
    }

    /// Decodes the canonical string form.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            try self.init(iso: text)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.message.en)
        }
    }

    /// Encodes the canonical string form.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(isoString)
    }

    /// Days in a month of the proleptic Gregorian calendar.
    public static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    private static func ordinal(_ y: Int, _ m: Int, _ d: Int, _ h: Int, _ mi: Int) -> Int {
        (((y * 13 + m) * 32 + d) * 24 + h) * 60 + mi
    }

    private static func invalid(_ en: String, _ vi: String) -> FieldProblem {
        FieldProblem("date.invalid", en: "Invalid date: \(en).", vi: "Ngày không hợp lệ: \(vi).")
    }

    private func pad(_ value: Int, _ width: Int) -> String {
        let s = String(value)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
