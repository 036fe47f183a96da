import Foundation

/// One metric of the Prometheus text exposition format 0.0.4: name, help, type and its samples.
/// Built from a service's counters at scrape time, so there is no second set of numbers to keep in step.
public struct MetricFamily: Sendable, Hashable {
    /// The metric type (`# TYPE`).
    public enum Kind: String, Sendable, Hashable {
        case counter, gauge, histogram
    }

    /// One line: the family name plus `suffix` (`_bucket`, `_sum`, `_count` for histograms), labels, value.
    public struct Sample: Sendable, Hashable {
        /// Appended to the family name.
        public var suffix: String
        /// Label names and values, in output order.
        public var labels: [Label]
        /// The value.
        public var value: Double

        /// Creates a sample.
        public init(suffix: String = "", labels: [Label] = [], value: Double) {
            self.suffix = suffix
            self.labels = labels
            self.value = value
        }
    }

    /// A label name and its value.
    public struct Label: Sendable, Hashable {
        /// Name (`[a-zA-Z_][a-zA-Z0-9_]*`).
        public var name: String
        /// Value (any text; escaped on output).
        public var value: String

        /// Creates a label.
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    /// Metric name, e.g. `hssk_consumed_total`.
    public var name: String
    /// One line of help.
    public var help: String
    /// Its type.
    public var kind: Kind
    /// Its samples (none is valid: the family is announced with zero series).
    public var samples: [Sample]

    /// Creates a family.
    public init(name: String, help: String, kind: Kind, samples: [Sample]) {
        self.name = name
        self.help = help
        self.kind = kind
        self.samples = samples
    }

    /// A counter without labels.
    public static func counter(_ name: String, _ help: String, _ value: Int) -> MetricFamily {
        MetricFamily(name: name, help: help, kind: .counter, samples: [Sample(value: Double(value))])
    }

    /// A counter with one label, one series per label value (sorted).
    public static func counter(_ name: String, _ help: String, by label: String, _ values: [String: Int]) -> MetricFamily {
        MetricFamily(name: name, help: help, kind: .counter,
                     samples: values.sorted { $0.key < $1.key }.map { Sample(labels: [Label(label, $0.key)], value: Double($0.value)) })
    }

    /// A gauge without labels.
    public static func gauge(_ name: String, _ help: String, _ value: Double) -> MetricFamily {
        MetricFamily(name: name, help: help, kind: .gauge, samples: [Sample(value: value)])
    }

    /// A histogram from per-bucket counts keyed by upper bound (`.infinity` for the last bucket).
    public static func histogram(_ name: String, _ help: String, buckets: [Double: Int], bounds: [Double], sum: Double) -> MetricFamily {
        var samples: [Sample] = []
        var cumulative = 0
        for bound in bounds.sorted() where bound.isFinite {
            cumulative += buckets[bound] ?? 0
            samples.append(Sample(suffix: "_bucket", labels: [Label("le", PrometheusText.number(bound))], value: Double(cumulative)))
        }
        let count = buckets.values.reduce(0, +)
        samples.append(Sample(suffix: "_bucket", labels: [Label("le", "+Inf")], value: Double(count)))
        samples.append(Sample(suffix: "_sum", value: sum))
        samples.append(Sample(suffix: "_count", value: Double(count)))
        return MetricFamily(name: name, help: help, kind: .histogram, samples: samples)
    }
}

/// Renders metric families as Prometheus text (format 0.0.4): `# HELP` and `# TYPE` before each
/// family's samples, escaped as the format requires.
public enum PrometheusText {
    /// The Content-Type of the rendering.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// The exposition of `families`, in the given order.
    public static func render(_ families: [MetricFamily]) -> String {
        var out = ""
        for family in families {
            out += "# HELP \(family.name) \(escapeHelp(family.help))\n"
            out += "# TYPE \(family.name) \(family.kind.rawValue)\n"
            for sample in family.samples {
                out += family.name + sample.suffix
                if !sample.labels.isEmpty {
                    out += "{" + sample.labels.map { "\($0.name)=\"\(escapeLabel($0.value))\"" }.joined(separator: ",") + "}"
                }
                out += " " + number(sample.value) + "\n"
            }
        }
        return out
    }

    /// A value as the format writes it: integers without a fraction, `+Inf`, `-Inf`, `NaN`.
    static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    /// HELP text: backslash and line feed escaped.
    static func escapeHelp(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }

    /// Label values: backslash, double quote and line feed escaped.
    static func escapeLabel(_ text: String) -> String {
        escapeHelp(text).replacingOccurrences(of: "\"", with: "\\\"")
    }
}
