/// String comparators for names (operating on Unicode scalars of already folded text).
public enum StringSimilarity {
    /// Jaro–Winkler similarity in 0...1 (prefix scale 0.1, up to 4 characters).
    public static func jaroWinkler(_ a: String, _ b: String) -> Double {
        let s = Array(a.unicodeScalars), t = Array(b.unicodeScalars)
        if s.isEmpty || t.isEmpty { return s.isEmpty && t.isEmpty ? 1 : 0 }
        if s == t { return 1 }
        let window = max(0, max(s.count, t.count) / 2 - 1)
        var sMatched = [Bool](repeating: false, count: s.count)
        var tMatched = [Bool](repeating: false, count: t.count)
        var matches = 0
        for i in 0..<s.count {
            let lower = max(0, i - window), upper = min(t.count - 1, i + window)
            guard lower <= upper else { continue }
            for j in lower...upper where !tMatched[j] && s[i] == t[j] {
                sMatched[i] = true
                tMatched[j] = true
                matches += 1
                break
            }
        }
        guard matches > 0 else { return 0 }
        var transpositions = 0
        var k = 0
        for i in 0..<s.count where sMatched[i] {
            while !tMatched[k] { k += 1 }
            if s[i] != t[k] { transpositions += 1 }
            k += 1
        }
        let m = Double(matches)
        let jaro = (m / Double(s.count) + m / Double(t.count) + (m - Double(transpositions / 2)) / m) / 3
        var prefix = 0
        while prefix < min(4, s.count, t.count) && s[prefix] == t[prefix] { prefix += 1 }
        return jaro + Double(prefix) * 0.1 * (1 - jaro)
    }

    /// Edit distance counting a swap of two adjacent characters as one edit (optimal string
    /// alignment: "hci" for "chi" is one typo, as a clerk makes it), capped: returns `limit + 1` as
    /// soon as the distance exceeds `limit`.
    public static func editDistance(_ a: String, _ b: String, limit: Int = 3) -> Int {
        let s = Array(a.unicodeScalars), t = Array(b.unicodeScalars)
        if abs(s.count - t.count) > limit { return limit + 1 }
        var beforePrevious: [Int] = []
        var previous = Array(0...t.count)
        var previousMin = 0
        for i in 1...max(1, s.count) where !s.isEmpty {
            var current = [i] + [Int](repeating: 0, count: t.count)
            var rowMin = current[0]
            for j in stride(from: 1, through: t.count, by: 1) {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (s[i - 1] == t[j - 1] ? 0 : 1))
                if i > 1, j > 1, s[i - 1] == t[j - 2], s[i - 2] == t[j - 1] { current[j] = min(current[j], beforePrevious[j - 2] + 1) }
                rowMin = min(rowMin, current[j])
            }
            // The next row builds on this one and (through a transposition) on the previous one.
            if rowMin > limit && previousMin > limit { return limit + 1 }
            previousMin = rowMin
            beforePrevious = previous
            previous = current
        }
        return min(previous[t.count], limit + 1)
    }
}
