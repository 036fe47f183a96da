import CitizenFeed
import Foundation
import HTTPResponder
import HealthModel
import ServiceRuntime
import Synchronization

/// Settings of the reference receiver.
public struct FeedSinkConfiguration: Sendable {
    /// Address to listen on.
    public var host = "127.0.0.1"
    /// Port (0: any free port).
    public var port: UInt16 = 0
    /// JSON Lines file recording every item received (appended).
    public var output: URL?
    /// When set, requests must carry a valid `Hssk-Signature`.
    public var signingKey: SigningKey?
    /// When set, requests must carry `Authorization: Bearer <token>`.
    public var bearerToken: String?
    /// Personal IDs whose documents are refused with 422 (to exercise dead-lettering).
    public var rejectPersonalIDs: Set<String> = []
    /// Largest request body.
    public var maxBodyBytes = 32 * 1024 * 1024
    /// Push requests are handled this much later (a slow receiver: keeps a pusher's batch in flight
    /// long enough for a test to crash the pusher while it waits for the answer).
    public var delay: Duration = .zero
    /// Told of every document stored (not duplicates, not out-of-order ones) with the personal ID and
    /// the document as stored, right after the request was recorded: `hssk bench feed` times arrivals
    /// with it. Runs on a connection thread of the responder before the response is sent, so it must
    /// be quick (hand the bytes over, decode them elsewhere).
    public var observer: (@Sendable (_ personalId: String, _ document: [UInt8]) -> Void)?

    /// Default settings.
    public init() {}
}

/// What the receiver saw.
public struct FeedSinkReport: Sendable, Hashable, Codable {
    /// Push requests received.
    public var requests = 0
    /// Requests failed on purpose (`failNext`, `failFor`).
    public var failedOnPurpose = 0
    /// Requests without valid credentials.
    public var unauthorized = 0
    /// Requests refused with 422 (`rejectPersonalIDs`).
    public var rejected = 0
    /// Requests whose body was not a valid push request.
    public var malformed = 0
    /// Items accepted (duplicates included).
    public var items = 0
    /// Documents stored.
    public var upserts = 0
    /// Deletions.
    public var deletions = 0
    /// Items whose idempotency key had been seen before.
    public var duplicates = 0
    /// Items older than a version already received for the same personal ID.
    public var outOfOrder = 0
}

/// The reference receiver for tests and the demo (`hssk feed sink`): verifies the request's
/// credentials, records what arrived, reports duplicates and out-of-order versions, and can be told
/// to fail. Built on `HTTPResponder`; not an implementation of the citizen app.
///
/// Endpoints: `POST /` (any path) push requests; `GET /_stats` the report as JSON;
/// `POST /_control?failNext=N&status=S&failForSeconds=T` changes the failure plan (same credentials;
/// unknown names and values that are not numbers or out of range are refused with 400, nothing changed).
public final class FeedSink: Service {
    /// Name for logs.
    public let name = "feed-sink"
    private let configuration: FeedSinkConfiguration
    private let core: Core
    private let responder: Mutex<HTTPResponder?>
    /// The port listened on.
    public let port: UInt16

    fileprivate struct State {
        var report = FeedSinkReport()
        var failNext = 0
        var failUntil: ContinuousClock.Instant?
        var failStatus = 503
        var inFlight = 0
        var seen: Set<String> = []
        var latest: [String: Int64] = [:]
        var arrivals: [String: [Int64]] = [:]
        var documents: [String: [UInt8]] = [:]
        var output: FileHandle?
    }

    /// Starts listening.
    public init(_ configuration: FeedSinkConfiguration) throws {
        self.configuration = configuration
        var initial = State()
        if let output = configuration.output {
            if !FileManager.default.fileExists(atPath: output.path) {
                _ = FileManager.default.createFile(atPath: output.path, contents: nil, attributes: [.posixPermissions: 0o600])
            }
            let handle = try FileHandle(forWritingTo: output)
            handle.seekToEndOfFile()
            initial.output = handle
        }
        let core = Core(configuration: configuration, state: initial)
        self.core = core
        var limits = HTTPLimits()
        limits.methods = ["GET", "POST"]
        limits.maxBodyBytes = configuration.maxBodyBytes
        limits.requestTimeout = .seconds(30)
        let responder = try HTTPResponder(host: configuration.host, port: configuration.port, limits: limits, name: "hssk-feed-sink",
                                          handler: { core.handle($0) })
        port = responder.port
        self.responder = Mutex(responder)
    }

    /// The URL pushers post to.
    public var url: URL {
        // The host is an IPv4 literal (the responder refused anything else) and the port a number:
        // the string is always a valid URL.
        URL(string: "http://\(configuration.host == "0.0.0.0" ? "127.0.0.1" : configuration.host):\(port)/feed")!
    }

    /// Fails the next `count` push requests with `status`.
    public func failNext(_ count: Int, status: Int = 503) {
        core.state.withLock { $0.failNext = count; $0.failStatus = status }
    }

    /// Fails every push request for `duration` from now with `status`.
    public func failFor(_ duration: Duration, status: Int = 503) {
        core.state.withLock { $0.failUntil = .now + duration; $0.failStatus = status }
    }

    /// What was received so far.
    public var report: FeedSinkReport { core.state.withLock { $0.report } }

    /// Push requests being handled right now (received, not yet answered).
    public var requestsInFlight: Int { core.state.withLock { $0.inFlight } }

    /// Versions received per personal ID, in arrival order (duplicates included).
    public var arrivals: [String: [Int64]] { core.state.withLock { $0.arrivals } }

    /// The newest document stored per personal ID (deleted ones removed), as received.
    public var documents: [String: [UInt8]] { core.state.withLock { $0.documents } }

    /// Serves until cancelled, then stops listening.
    public func run() async throws {
        while !Task.isCancelled {
            do { try await Task.sleep(for: .seconds(3600)) } catch { break }
        }
        stop()
    }

    /// Stops listening and closes the output file.
    public func stop() {
        responder.withLock { $0?.stop(); $0 = nil }
        core.state.withLock { try? $0.output?.close(); $0.output = nil }
    }
}

/// The receiver's state and request handling, shared with the responder's connection threads.
private final class Core: Sendable {
    let configuration: FeedSinkConfiguration
    let state: Mutex<FeedSink.State>

    init(configuration: FeedSinkConfiguration, state: FeedSink.State) {
        self.configuration = configuration
        self.state = Mutex(state)
    }

    /// A push request's items, each checked: its key, version and idempotency key agree, and an
    /// upsert's document names the same person and version. Parsed with JSONSerialization, about ten
    /// times faster than Codable on documents: the receiver shares the bench's two cores with hssk.
    private struct PushBody {
        struct Item {
            var op: FeedItem.Operation
            var personalId: String
            var version: Int64
            var idempotencyKey: String
            /// The document, compact with sorted keys; nil for a deletion.
            var document: [UInt8]?
        }
        var items: [Item] = []

        /// Nil when the body is not a push request or some item is not well formed.
        init?(_ body: [UInt8]) {
            guard let root = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
                  let entries = root["items"] as? [Any], let spans = DocumentSpans(body).items, spans.count == entries.count else { return nil }
            for (entry, span) in zip(entries, spans) {
                guard let fields = entry as? [String: Any], var item = Self.item(fields) else { return nil }
                // The document's bytes as received (re-serialising them cost more than parsing).
                if item.document != nil {
                    guard let span else { return nil }  // a key spelled with escapes: refused, the pusher never sends one
                    item.document = Array(body[span])
                }
                items.append(item)
            }
        }

        private static func item(_ fields: [String: Any]) -> Item? {
            guard let op = (fields["op"] as? String).flatMap(FeedItem.Operation.init(rawValue:)),
                  let personalId = fields["personalId"] as? String, let version = integer(fields["version"]), version > 0,
                  let idempotencyKey = fields["idempotencyKey"] as? String, idempotencyKey == "\(personalId):\(version)",
                  (try? PersonalID(parsing: personalId))?.value == personalId else { return nil }
            let document = fields["document"].flatMap { $0 is NSNull ? nil : $0 }
            switch (op, document) {
            case (.upsert, let object as [String: Any]):
                guard object["personalId"] as? String == personalId, integer(object["version"]) == version else { return nil }
                return Item(op: op, personalId: personalId, version: version, idempotencyKey: idempotencyKey, document: [])
            case (.delete, nil):
                return Item(op: op, personalId: personalId, version: version, idempotencyKey: idempotencyKey, document: nil)
            default:
                return nil
            }
        }

        /// A whole JSON number; not `true`, which reads as 1 too (Foundation's booleans are `char` numbers).
        private static func integer(_ value: Any?) -> Int64? {
            guard let number = value as? NSNumber, String(cString: number.objCType) != "c",
                  let whole = value as? Int64, Double(whole) == number.doubleValue else { return nil }
            return whole
        }
    }

    /// Where each item's `document` value lies in a push body that JSONSerialization has accepted:
    /// `{"items":[{…,"document":{…}},…]}` walked without building anything.
    private struct DocumentSpans {
        private let bytes: [UInt8]
        private var index = 0
        /// Per item, the byte range of its document (nil without one); nil if the body has another shape.
        private(set) var items: [Range<Int>?]?

        init(_ bytes: [UInt8]) {
            self.bytes = bytes
            items = walk()
        }

        private mutating func walk() -> [Range<Int>?]? {
            var found: [Range<Int>?]?
            let ok = object { key, this in
                guard key == "items" else { return this.skipValue() }
                found = []
                return this.array { this in
                    var span: Range<Int>?
                    let ok = this.object { key, this in
                        let start = this.index
                        guard this.skipValue() else { return false }
                        if key == "document" { span = start..<this.index }
                        return true
                    }
                    found?.append(span)
                    return ok
                }
            }
            return ok ? found : nil
        }

        private mutating func space() {
            while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
        }

        private mutating func take(_ byte: UInt8) -> Bool {
            space()
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }

        /// `{ "key": value, … }`, calling `member` with the cursor on each value.
        private mutating func object(_ member: (String, inout DocumentSpans) -> Bool) -> Bool {
            guard take(UInt8(ascii: "{")) else { return false }
            if take(UInt8(ascii: "}")) { return true }
            repeat {
                space()
                let start = index
                guard skipString() else { return false }
                let key = String(decoding: bytes[(start + 1)..<(index - 1)], as: UTF8.self)  // escapes kept: "items" and "document" have none
                guard take(UInt8(ascii: ":")) else { return false }
                space()
                guard member(key, &self) else { return false }
            } while take(UInt8(ascii: ","))
            return take(UInt8(ascii: "}"))
        }

        private mutating func array(_ element: (inout DocumentSpans) -> Bool) -> Bool {
            guard take(UInt8(ascii: "[")) else { return false }
            if take(UInt8(ascii: "]")) { return true }
            repeat {
                space()
                guard element(&self) else { return false }
            } while take(UInt8(ascii: ","))
            return take(UInt8(ascii: "]"))
        }

        private mutating func skipString() -> Bool {
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return false }
            index += 1
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: "\\"): index += 2
                case UInt8(ascii: "\""): index += 1; return true
                default: index += 1
                }
            }
            return false
        }

        /// Any value: strings with escapes, nested objects and arrays, or a bare literal.
        private mutating func skipValue() -> Bool {
            space()
            guard index < bytes.count else { return false }
            switch bytes[index] {
            case UInt8(ascii: "\""):
                return skipString()
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                var depth = 0
                while index < bytes.count {
                    switch bytes[index] {
                    case UInt8(ascii: "\""): guard skipString() else { return false }; continue
                    case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                    case UInt8(ascii: "}"), UInt8(ascii: "]"):
                        depth -= 1
                        if depth == 0 { index += 1; return true }
                    default: break
                    }
                    index += 1
                }
                return false
            default:
                while index < bytes.count, ![UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) {
                    index += 1
                }
                return true
            }
        }
    }

    /// Answers one request (on a connection thread of the responder).
    func handle(_ request: HTTPRequest) -> HTTPResponse {
        if request.method == "GET" {
            guard request.path == "/_stats" else { return .text(404, "not found\n") }
            let report = state.withLock { $0.report }
            return .json(200, (try? JSONEncoder().encode(report)).map(Array.init) ?? [])
        }
        guard authorized(request, configuration) else {
            state.withLock { $0.report.unauthorized += 1 }
            return .json(401, Array(#"{"error":"unauthorized"}"#.utf8))
        }
        if request.path == "/_control" { return control(request) }
        state.withLock { $0.inFlight += 1 }
        defer { state.withLock { $0.inFlight -= 1 } }
        if configuration.delay > .zero {
            // Before recording: a pusher killed meanwhile has its batch recorded here but not committed.
            let (seconds, attoseconds) = configuration.delay.components
            Thread.sleep(forTimeInterval: Double(seconds) + Double(attoseconds) / 1e18)
        }
        let failure = state.withLock { state -> Int? in
            state.report.requests += 1
            let failing = state.failNext > 0 || state.failUntil.map { ContinuousClock.now < $0 } == true
            guard failing else { return nil }
            state.failNext = max(0, state.failNext - 1)
            state.report.failedOnPurpose += 1
            return state.failStatus
        }
        if let failure { return .json(failure, Array(#"{"error":"failing on purpose"}"#.utf8)) }
        guard let body = PushBody(request.body) else {
            state.withLock { $0.report.malformed += 1 }
            return .json(400, Array(#"{"error":"not a push request"}"#.utf8))
        }
        if let refused = body.items.first(where: { configuration.rejectPersonalIDs.contains($0.personalId) }) {
            state.withLock { $0.report.rejected += 1 }
            return .json(422, Array(#"{"error":"unknown citizen","idempotencyKey":"\#(refused.idempotencyKey)"}"#.utf8))
        }
        let counts = state.withLock { state in Core.record(body.items, into: &state) }
        if let observer = configuration.observer {
            // Outside the lock: the observer's own work must not hold up other connections.
            for (personalID, document) in counts.stored { observer(personalID, document) }
        }
        return .json(200, Array(#"{"accepted":\#(body.items.count),"duplicates":\#(counts.duplicates),"outOfOrder":\#(counts.outOfOrder)}"#.utf8))
    }


    private func authorized(_ request: HTTPRequest, _ configuration: FeedSinkConfiguration) -> Bool {
        if let token = configuration.bearerToken {
            let expected = Array("Bearer \(token)".utf8), given = Array((request.header("Authorization") ?? "").utf8)
            // Constant time in the token's length, so a forger learns nothing from timing.
            guard expected.count == given.count, zip(expected, given).reduce(0, { $0 | ($1.0 ^ $1.1) }) == 0 else { return false }
        }
        if let key = configuration.signingKey {
            guard FeedWire.verify(signature: request.header(FeedWire.signatureHeader), timestamp: request.header(FeedWire.timestampHeader),
                                  body: request.body, key: key, now: Date()) else { return false }
        }
        return true
    }

    /// `POST /_control`: the whole plan is checked before any of it applies; 400 with the reason otherwise.
    private func control(_ request: HTTPRequest) -> HTTPResponse {
        let plan: ControlPlan
        do {
            plan = try ControlPlan(query: request.query)
        } catch {
            let body = (try? JSONEncoder().encode(["error": error.message])).map(Array.init) ?? Array(#"{"error":"bad control request"}"#.utf8)
            return .json(400, body)
        }
        state.withLock { state in
            state.failStatus = plan.status
            if let next = plan.failNext { state.failNext = next }
            if let duration = plan.failFor { state.failUntil = .now + duration }
        }
        return .json(200, Array(#"{"ok":true}"#.utf8))
    }

    /// Records accepted items; returns how many were duplicates and out of order.
    private static func record(_ items: [PushBody.Item], into state: inout FeedSink.State)
        -> (duplicates: Int, outOfOrder: Int, stored: [(String, [UInt8])]) {
        var duplicates = 0, outOfOrder = 0
        var stored: [(String, [UInt8])] = []
        let receivedAt = CitizenDocumentBuilder.rfc3339(Date())
        var lines = Data()
        for item in items {
            let duplicate = !state.seen.insert(item.idempotencyKey).inserted
            let late = !duplicate && item.version < (state.latest[item.personalId] ?? 0)
            if duplicate { duplicates += 1 }
            if late { outOfOrder += 1 }
            state.report.items += 1
            state.arrivals[item.personalId, default: []].append(item.version)
            if !duplicate && !late {
                state.latest[item.personalId] = item.version
                switch item.op {
                case .upsert:
                    state.report.upserts += 1
                    state.documents[item.personalId] = item.document
                    if let bytes = item.document { stored.append((item.personalId, bytes)) }
                case .delete:
                    state.report.deletions += 1
                    state.documents[item.personalId] = nil
                }
            }
            guard state.output != nil else { continue }  // no output file (tests, bench): no lines to encode
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let line = SinkLine(receivedAt: receivedAt, op: item.op, personalId: item.personalId, version: item.version,
                                idempotencyKey: item.idempotencyKey, duplicate: duplicate, outOfOrder: late,
                                document: item.document.flatMap { try? JSONDecoder().decode(JSONValue.self, from: Data($0)) })
            if let data = try? encoder.encode(line) { lines += data + Data("\n".utf8) }
        }
        state.report.duplicates += duplicates
        state.report.outOfOrder += outOfOrder
        state.output?.write(lines)
        return (duplicates, outOfOrder, stored)
    }

    /// One line of the output file.
    private struct SinkLine: Encodable {
        var receivedAt: String
        var op: FeedItem.Operation
        var personalId: String
        var version: Int64
        var idempotencyKey: String
        var duplicate: Bool
        var outOfOrder: Bool
        var document: JSONValue?
    }
}

/// A failure plan posted to `/_control`, read from untrusted query text: every value is checked
/// against the same bounds as `hssk feed sink --fail-next/--fail-for` before it is converted, so no
/// input can trap a conversion (`1e300` seconds would overflow `Int64`).
private struct ControlPlan {
    /// Why a control request was refused.
    struct Problem: Error {
        var message: String
    }

    static let names: Set<String> = ["failNext", "status", "failForSeconds"]
    static let maxFailNext = 1_000_000
    static let maxFailSeconds = 86_400.0

    /// Status of the failures (503 unless given).
    var status = 503
    /// Requests to fail, when given.
    var failNext: Int?
    /// How long to fail from now, when given.
    var failFor: Duration?

    init(query: [String: String]) throws(Problem) {
        for name in query.keys.sorted() where !Self.names.contains(name) {
            guard !name.isEmpty else { throw Problem(message: "a parameter without a name; use failNext, status, failForSeconds") }
            throw Problem(message: "unknown parameter '\(name.prefix(40))'; use failNext, status, failForSeconds")
        }
        if let text = query["status"] {
            guard let status = Int(text), (100...599).contains(status) else { throw Problem(message: "status must be a whole number 100–599") }
            self.status = status
        }
        if let text = query["failNext"] {
            guard let count = Int(text), (0...Self.maxFailNext).contains(count) else {
                throw Problem(message: "failNext must be a whole number 0–\(Self.maxFailNext)")
            }
            failNext = count
        }
        if let text = query["failForSeconds"] {
            // The range check also refuses NaN and infinities (no comparison holds for NaN).
            guard let seconds = Double(text), seconds >= 0, seconds <= Self.maxFailSeconds else {
                throw Problem(message: "failForSeconds must be a number of seconds 0–\(Int(Self.maxFailSeconds))")
            }
            failFor = .milliseconds(Int64((seconds * 1000).rounded()))
        }
    }
}
