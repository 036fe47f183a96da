import Foundation
import HealthModel

/// Generates a `Population`: deterministic for a seed, fast (no I/O).
public struct PopulationGenerator: Sendable {
    public var citizens: Int
    public var seed: UInt64
    public var noise = NoiseRates()
    /// Share of births that are twins (same birth date, mother and address; different given names).
    public var twinRate = 0.03
    /// Share of household heads who share an earlier, unrelated head's full name and birth year
    /// (namesakes such as two Nguyễn Văn An born in 1980): persons the index must keep apart.
    public var namesakeRate = 0.05
    /// Added to every citizen's index where it appears in record keys and source ids (episode keys,
    /// dose ids, patient ids, event ids), so that populations generated as shards of one city never
    /// share a key. Ground truth (`RecordTruth.personIndex`) stays the index in this population.
    public var indexBase = 0
    /// Adds what a first load finds in the immunization system besides the children's schedule: the
    /// COVID-19 doses of 2021–2022 that most people aged 12 or more received (a city's largest
    /// vaccination history).
    public var vaccinationHistory = false
    /// The simulated period: records fall between 1 July 2025 and 30 June 2026 (after the 2025 reform:
    /// no district level in addresses).
    static let periodStart = DateComponents(year: 2025, month: 7, day: 1)
    static let asOfYear = 2026

    public init(citizens: Int, seed: UInt64 = 1) {
        self.citizens = citizens
        self.seed = seed
    }

    /// Citizens in households (with mothers, newborns and twins), then their sources' records.
    public func generate() -> Population {
        var registry = IdentifierRegistry()
        return generate(sharing: &registry)
    }

    /// As `generate()`, with identifiers unique across every population generated with `registry`
    /// (shards of one city).
    public func generate(sharing registry: inout IdentifierRegistry) -> Population {
        var random = SeededGenerator(seed: seed)
        let people = makeCitizens(&random, &registry)
        var (citizens, records) = SourceRecordFactory(people: people, noise: noise, indexBase: indexBase,
                                                      vaccinationHistory: vaccinationHistory).records(&random, &registry)
        records.sort { ($0.eventTime, $0.sequence) < ($1.eventTime, $1.sequence) }
        return Population(citizens: citizens, records: records.map(\.record))
    }

    /// The citizens alone, without their records (as `generate()` would make them before the period).
    public func citizensOnly() -> [Citizen] {
        var random = SeededGenerator(seed: seed)
        var registry = IdentifierRegistry()
        return makeCitizens(&random, &registry)
    }

    private func makeCitizens(_ random: inout SeededGenerator, _ registry: inout IdentifierRegistry) -> [Citizen] {
        var people: [Citizen] = []
        var household = 0
        var heads: [Int] = []
        while people.count < citizens {
            makeHousehold(household, into: &people, heads: &heads, &random)
            household += 1
        }
        if people.count > citizens { people.removeLast(people.count - citizens) }
        for index in people.indices where people[index].motherIndex.map({ $0 >= people.count }) == true {
            people[index].motherIndex = nil
        }
        Self.makeIdentifiersUnique(&people, &registry)
        return people
    }

    /// Real identifiers name one person each, but random serials can repeat (six digits of a personal ID
    /// within a province, sex and birth year): a repeat takes the next free serial. This draws no random
    /// numbers, so a population without repeats is the same as before.
    static func makeIdentifiersUnique(_ people: inout [Citizen], _ registry: inout IdentifierRegistry) {
        for index in people.indices {
            people[index].personalId = nextFree(people[index].personalId, serialDigits: 6, &registry.personalIds)
            let bhxh = nextFree(people[index].bhxhNumber, serialDigits: 10, &registry.bhxhNumbers)
            if bhxh != people[index].bhxhNumber {
                people[index].cardCode = String(people[index].cardCode.dropLast(10)) + bhxh
                people[index].bhxhNumber = bhxh
            }
            if let code = people[index].immunizationCode {
                people[index].immunizationCode = nextFree(code, serialDigits: 8, &registry.immunizationCodes)
            }
        }
    }

    /// `value` if unused, else the same prefix with the next unused serial in its last `serialDigits` digits.
    static func nextFree(_ value: String, serialDigits: Int, _ used: inout Set<String>) -> String {
        var candidate = value
        let prefix = value.dropLast(serialDigits)
        var serial = Int(value.suffix(serialDigits)) ?? 0
        var limit = 1
        for _ in 0..<serialDigits { limit *= 10 }
        while used.contains(candidate) {
            serial = (serial + 1) % limit
            candidate = prefix + String(format: "%0\(serialDigits)d", serial)
        }
        used.insert(candidate)
        return candidate
    }

    private func makeHousehold(_ household: Int, into people: inout [Citizen], heads: inout [Int], _ random: inout SeededGenerator) {
        let namesake = !heads.isEmpty && random.chance(namesakeRate) ? heads.randomElement(using: &random).map { people[$0] } : nil
        let family = namesake?.familyName ?? random.weighted(VietnameseNames.family)
        let street = "Số \(Int.random(in: 1...200, using: &random)) \(VietnameseNames.streets.randomElement(using: &random) ?? "Phố Huế")"
        let commune = String(format: "%05d", Int.random(in: 1...600, using: &random) * 7)
        let headAge = namesake.map { Self.asOfYear - $0.birthYear } ?? Int.random(in: 24...75, using: &random)
        var father = makeCitizen(people.count, family: family, sex: 1, age: headAge, household, street, commune, &random)
        if let namesake {
            father.middleName = namesake.middleName
            father.givenName = namesake.givenName
            // A year-only birth date is kept as is: the two agree on everything the records say of it.
            if namesake.birthDate.count == 4 { father.birthDate = namesake.birthDate }
        }
        heads.append(father.index)
        people.append(father)
        guard random.chance(0.8) else { return }  // one-person household
        let motherFamily = random.weighted(VietnameseNames.family)  // Vietnamese women keep their family name
        let mother = makeCitizen(people.count, family: motherFamily, sex: 2, age: max(20, headAge + Int.random(in: -5...2, using: &random)),
                                 household, street, commune, &random)
        people.append(mother)
        let motherIndex = mother.index
        let motherBirthYear = mother.birthYear
        let children = random.weighted([(0, 0.2), (1, 0.35), (2, 0.35), (3, 0.1)])
        // Siblings other than twins are born in different years and never share a given name.
        var birthYears: Set<Int> = []
        var givenNames: Set<String> = []
        func named(_ citizen: Citizen, _ random: inout SeededGenerator) -> Citizen {
            var citizen = citizen
            let names = citizen.sex == 1 ? VietnameseNames.maleGiven : VietnameseNames.femaleGiven
            while givenNames.contains(citizen.givenName) { citizen.givenName = names.randomElement(using: &random) ?? "Song" }
            givenNames.insert(citizen.givenName)
            citizen.motherIndex = motherIndex
            return citizen
        }
        for _ in 0..<children {
            // Children are born when the mother is 20 to 40, and not after the simulated period.
            let latest = min(Self.asOfYear, motherBirthYear + 40)
            let earliest = motherBirthYear + 20
            guard earliest <= latest else { break }
            let years = (earliest...latest).filter { !birthYears.contains($0) }
            guard let birthYear = years.randomElement(using: &random) else { break }
            birthYears.insert(birthYear)
            let twins = random.chance(twinRate)
            let child = named(makeCitizen(people.count, family: family, sex: random.chance(0.51) ? 1 : 2, age: Self.asOfYear - birthYear,
                                          household, street, commune, &random), &random)
            people.append(child)
            if twins {
                var twin = named(makeCitizen(people.count, family: family, sex: random.chance(0.5) ? 1 : 2, age: Self.asOfYear - birthYear,
                                             household, street, commune, &random), &random)
                twin.birthDate = child.birthDate
                // Twins of one sex usually share the middle name: only the given name tells them apart.
                if twin.sex == child.sex { twin.middleName = child.middleName }
                twin.personalId = Self.personalId(province: String(child.personalId.prefix(3)), sex: twin.sex, year: child.birthYear, &random)
                people.append(twin)
            }
        }
    }

    private func makeCitizen(_ index: Int, family: String, sex: Int, age: Int, _ household: Int, _ street: String, _ commune: String,
                             _ random: inout SeededGenerator) -> Citizen {
        let birthYear = Self.asOfYear - age
        var birthDate: String
        if birthYear < 1960 && random.chance(0.3) {
            birthDate = String(birthYear)  // many older people have a birth year only
        } else {
            let month = Int.random(in: 1...12, using: &random)
            // Births in the last year fall inside the simulated period (newborns the registry reports).
            let latestMonth = birthYear == Self.asOfYear ? 6 : 12
            birthDate = String(format: "%04d-%02d-%02d", birthYear, min(month, latestMonth), Int.random(in: 1...28, using: &random))
        }
        let middle = random.weighted(sex == 1 ? VietnameseNames.maleMiddle : VietnameseNames.femaleMiddle)
        let given = (sex == 1 ? VietnameseNames.maleGiven : VietnameseNames.femaleGiven).randomElement(using: &random) ?? "An"
        let province = random.weighted([("001", 80.0), ("022", 4), ("036", 4), ("038", 4), ("040", 4), ("079", 4)])
        let bhxh = random.digits(10)
        let group: String
        switch age {
        case ..<6: group = "TE1"
        case 6..<18: group = "HS4"
        case 60...: group = "HT3"
        default: group = random.chance(0.6) ? "DN4" : "GD4"
        }
        return Citizen(index: index, familyName: family, middleName: middle, givenName: given, sex: sex, birthDate: birthDate,
                       birthYear: birthYear, personalId: Self.personalId(province: province, sex: sex, year: birthYear, &random),
                       oldPersonalId: nil, phone: age >= 16 && random.chance(0.85) ? Self.phone(&random) : nil, bhxhNumber: bhxh,
                       cardCode: group + "01" + bhxh,
                       immunizationCode: birthYear >= 2024 ? Self.immunizationCode(birthYear, &random) : nil,
                       communeCode: commune, street: street, household: household, motherIndex: nil, deathDate: nil)
    }

    /// The immunization system's code of a child vaccinated under the national programme.
    static func immunizationCode(_ birthYear: Int, _ random: inout SeededGenerator) -> String {
        "TC01\(birthYear % 100)" + random.digits(8)
    }

    /// Province of birth registration + century/sex digit + two-digit year + six digits (reference §2).
    static func personalId(province: String, sex: Int, year: Int, _ random: inout SeededGenerator) -> String {
        let century = (year / 100) - 19  // 1900s → 0, 2000s → 1
        let digit = century * 2 + (sex == 2 ? 1 : 0)
        return province + String(digit) + String(format: "%02d", year % 100) + random.digits(6)
    }

    static func phone(_ random: inout SeededGenerator) -> String {
        (["03", "05", "07", "08", "09"].randomElement(using: &random) ?? "09") + random.digits(8)
    }
}

/// Identifiers already given, so that several generated populations (shards of one city) never
/// give one number to two citizens.
public struct IdentifierRegistry: Sendable {
    var personalIds: Set<String> = []
    var bhxhNumbers: Set<String> = []
    var immunizationCodes: Set<String> = []

    /// An empty registry.
    public init() {}
}
