import COpenSSL
import Foundation
import HealthModel
import Kafka
import RecordStore
import ServiceRuntime
import SourceAdapters
import SyntheticPopulation

/// The source systems of a synthetic population, for the demo, `hssk bench ingest` and the tests:
/// each record is sent by its sender account as that system would send it — signed with the
/// account's key, or unsigned or forged when the ground truth says so — and WITHOUT local validation
/// (invalid records must reach ingest to be dead-lettered there).
public struct SyntheticSources: Sendable {
    /// Signing keys of the senders, by account name.
    public let keys: [String: SigningKey]
    /// Topic per record kind.
    public let topics: [RecordKind: String]

    /// Sources with fresh random keys for every synthetic account.
    public init(topics: [RecordKind: String] = SourceTopics.defaults) throws {
        var keys: [String: SigningKey] = [:]
        for name in Self.accountNames { keys[name] = try SigningKey(bytes: try Self.randomBytes(32)) }
        self.keys = keys
        self.topics = topics
    }

    /// Every account the synthetic sources send as.
    public static var accountNames: [String] {
        Array(Set(SyntheticAccounts.facilities.map(\.account) + [SyntheticAccounts.station.account, SyntheticAccounts.socialSecurity])).sorted()
    }

    /// The accounts to register in the store before ingest runs.
    public var accounts: [InteropAccount] {
        keys.keys.sorted().compactMap { name in
            guard let parsed = try? InteropAccountName(parsing: name) else { return nil }
            return InteropAccount(name: parsed.value, facility: parsed.facility?.value ?? InteropAccountName.socialSecurityPrefix.uppercased(),
                                  signingKey: keys[name]?.bytes)
        }
    }

    /// The Kafka record a source sends for `synthetic`.
    public func producerRecord(_ synthetic: SyntheticRecord, time: Date = Date()) throws -> ProducerRecord {
        let value = Array(try RecordDecoder.encode(synthetic.record))
        return message(value: value, key: synthetic.record.kafkaKey, kind: synthetic.record.kind, sender: synthetic.sender,
                       signing: synthetic.truth.signing, time: time)
    }

    /// A message with any value, as `sender` would send it on `kind`'s topic.
    public func message(value: [UInt8], key: String, kind: RecordKind, sender: String, signing: RecordTruth.Signing = .valid,
                        time: Date = Date()) -> ProducerRecord {
        let signer: SigningKey?
        switch signing {
        case .valid: signer = keys[sender]
        case .unsigned: signer = nil
        // Signed by someone without the account's key: a well-formed tag under another key.
        case .forged: signer = try? SigningKey(bytes: Array(repeating: 0x5a, count: 32))
        }
        let headers = CloudEventHeaders.make(id: CloudEventHeaders.newID(), source: sender, type: kind.ceType,
                                             time: CloudEventHeaders.time(time), value: value, signedWith: signer)
        return ProducerRecord(topic: topics[kind] ?? "", key: Array(key.utf8), value: value, headers: headers)
    }

    /// The dead-letter code ingest must give a record, or nil when it must be stored.
    public static func expectedCode(_ synthetic: SyntheticRecord) -> String? {
        switch synthetic.truth.signing {
        case .unsigned: return "signature.missing"
        case .forged: return "signature.invalid"
        case .valid: return synthetic.truth.rejectionCode
        }
    }

    /// `count` bytes from OpenSSL's generator (keys of the sources and of test receivers).
    public static func randomBytes(_ count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        guard RAND_bytes(&bytes, Int32(count)) == 1 else { throw StoreError.backend("the random generator failed") }
        return bytes
    }
}
