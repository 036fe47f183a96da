/// Reusable field checks: each records its problems at the given path and returns the parsed value.
extension IssueCollector {
    /// Checks an optional or required facility code; `insuranceOnly` demands the 5-character form.
    @discardableResult
    public mutating func facility(_ value: String?, at path: String, required: Bool, insuranceOnly: Bool = false) -> FacilityCode? {
        guard let value, !value.isEmpty else {
            if required { missing(path) }
            return nil
        }
        return parse(path) { () throws(FieldProblem) in
            insuranceOnly ? try FacilityCode(parsingInsuranceCode: value) : try FacilityCode(parsing: value)
        }
    }

    /// Checks a partial date; `minimum` is the coarsest precision accepted (e.g. `.day` for a visit date).
    @discardableResult
    public mutating func date(
        _ value: String?, at path: String, required: Bool, minimum: PartialDate.Precision = .year
    ) -> PartialDate? {
        guard let value, !value.isEmpty else {
            if required { missing(path) }
            return nil
        }
        guard let date = parse(path, { () throws(FieldProblem) in try PartialDate(iso: value) }) else { return nil }
        if date.precision < minimum {
            add(path, "date.tooImprecise",
                en: "'\(value)' is not precise enough: at least \(Self.precisionName(minimum).en) is required.",
                vi: "'\(value)' chưa đủ chi tiết: cần ít nhất \(Self.precisionName(minimum).vi).")
        }
        return date
    }

    /// Reports `later` before `earlier` (only when certainly before, respecting precision).
    public mutating func order(
        _ earlier: PartialDate?, _ later: PartialDate?, at path: String, code: String,
        severity: Severity = .error, en: String, vi: String
    ) {
        guard let earlier, let later, later.isDefinitelyBefore(earlier) else { return }
        add(path, code, severity, en: en, vi: vi)
    }

    /// Checks an integer against a closed set of allowed codes.
    public mutating func code(_ value: Int?, at path: String, allowed: ClosedRange<Int>, required: Bool, label: String, labelVi: String) {
        guard let value else {
            if required { missing(path) }
            return
        }
        if !allowed.contains(value) {
            add(path, "\(label).invalid",
                en: "\(label) must be \(allowed.lowerBound)–\(allowed.upperBound), found \(value).",
                vi: "\(labelVi) phải từ \(allowed.lowerBound) đến \(allowed.upperBound) (đang là \(value)).")
        }
    }

    /// Checks a free-text field: required, not blank, bounded length.
    public mutating func text(_ value: String?, at path: String, required: Bool, maxLength: Int) {
        guard let value, !value.isEmpty else {
            if required { missing(path) }
            return
        }
        if value.count > maxLength {
            add(path, "text.tooLong", en: "Text is longer than \(maxLength) characters.", vi: "Nội dung dài quá \(maxLength) ký tự.")
        }
    }

    /// Checks a number is within bounds.
    public mutating func range(_ value: Double?, at path: String, _ bounds: ClosedRange<Double>, en: String, vi: String) {
        guard let value else { return }
        if !bounds.contains(value) || value.isNaN {
            add(path, "value.outOfRange",
                en: "\(en) must be between \(bounds.lowerBound) and \(bounds.upperBound), found \(value).",
                vi: "\(vi) phải trong khoảng \(bounds.lowerBound)–\(bounds.upperBound) (đang là \(value)).")
        }
    }

    /// Records a missing required field.
    public mutating func missing(_ path: String) {
        let field = path.split(separator: ".").last.map(String.init) ?? path
        add(path, "field.missing", en: "Required field \(field) is missing or empty.",
            vi: "Thiếu trường bắt buộc \(field) hoặc trường để trống.")
    }

    private static func precisionName(_ p: PartialDate.Precision) -> (en: String, vi: String) {
        switch p {
        case .year: return ("the year", "năm")
        case .month: return ("year and month", "tháng và năm")
        case .day: return ("the full date", "ngày tháng năm đầy đủ")
        case .minute: return ("date and time", "ngày và giờ")
        }
    }
}
