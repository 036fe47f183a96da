import Foundation
import ServiceRuntime
import Synchronization
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One document (or deletion) in a push request.
public struct FeedItem: Sendable, Hashable {
    /// What the receiver does with it.
    public enum Operation: String, Sendable, Hashable, Codable {
        /// Store the document (replacing any older version).
        case upsert
        /// Delete the document of this personal ID (a retired or absorbed number).
        case delete
    }

    /// Store or delete.
    public var operation: Operation
    /// The key: a 12-digit personal ID.
    public var personalId: String
    /// The document's version (also for a deletion: the version that retired the key).
    public var version: Int64
    /// The document's JSON bytes exactly as on the feed; nil for a deletion.
    public var document: [UInt8]?

    /// Creates an item.
    public init(operation: Operation, personalId: String, version: Int64, document: [UInt8]?) {
        self.operation = operation
        self.personalId = personalId
        self.version = version
        self.document = document
    }

    /// `<personalId>:<version>`: the same item delivered twice has the same key.
    public var idempotencyKey: String { "\(personalId):\(version)" }
}

/// The push request's body and signature (docs/citizen-feed.md, "Requests").
public enum FeedWire {
    /// `v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`.
    public static let signatureHeader = "Hssk-Signature"
    /// Unix seconds when the request was signed.
    public static let timestampHeader = "Hssk-Timestamp"
    /// Signatures older or newer than this are refused by the receiver (replays).
    public static let signatureTolerance: TimeInterval = 300

    /// `{"items":[{"op","personalId","version","idempotencyKey","document"}...]}`; documents are embedded
    /// byte for byte (they were checked to be JSON objects before).
    public static func body(_ items: [FeedItem]) -> [UInt8] {
        var out = Array(#"{"items":["#.utf8)
        for (index, item) in items.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            // Personal IDs are 12 digits and versions integers (checked by the pusher): nothing to escape.
            out += Array(#"{"op":"\#(item.operation.rawValue)","personalId":"\#(item.personalId)","version":\#(item.version),"idempotencyKey":"\#(item.idempotencyKey)""#.utf8)
            if let document = item.document {
                out += Array(#","document":"#.utf8)
                out += document
            }
            out.append(UInt8(ascii: "}"))
        }
        out += Array("]}".utf8)
        return out
    }

    /// The signature header value of `body` signed at `timestamp`.
    public static func signature(body: [UInt8], timestamp: String, key: SigningKey) -> String {
        "v1=" + RecordSignature.sign(value: Array("\(timestamp).".utf8) + body, key: key)
    }

    /// True when `signature` signs `body` at `timestamp` with `key` and the timestamp is within the
    /// tolerance of `now`.
    public static func verify(signature: String?, timestamp: String?, body: [UInt8], key: SigningKey, now: Date) -> Bool {
        guard let signature, signature.hasPrefix("v1="), let timestamp, let seconds = Int64(timestamp),
              abs(now.timeIntervalSince1970 - TimeInterval(seconds)) <= signatureTolerance else { return false }
        return RecordSignature.verify(value: Array("\(timestamp).".utf8) + body, signature: String(signature.dropFirst(3)), key: key)
    }
}

/// Where and how the pusher posts.
public struct FeedEndpointConfiguration: Sendable, CustomStringConvertible {
    /// The receiver's URL (https in production).
    public var url: URL
    /// Sent as `Authorization: Bearer <token>` when set.
    public var bearerToken: String?
    /// Signs each request (`Hssk-Signature`) when set.
    public var signingKey: SigningKey?
    /// Longest wait for a response.
    public var timeout: Duration = .seconds(30)

    /// Creates a configuration.
    public init(url: URL, bearerToken: String? = nil, signingKey: SigningKey? = nil) {
        self.url = url
        self.bearerToken = bearerToken
        self.signingKey = signingKey
    }

    /// The URL and which credentials are set, never the credentials.
    public var description: String {
        "\(url.absoluteString) (bearer token: \(bearerToken == nil ? "no" : "yes"), signed: \(signingKey == nil ? "no" : "yes"))"
    }
}

/// What the receiver made of a request.
public enum PushOutcome: Sendable, Hashable {
    /// 2xx: done.
    case accepted(status: Int)
    /// Try again later: 5xx, 408, 425, 429, 401/403 (credentials: an operator must act, nothing is
    /// dropped meanwhile), redirects, timeouts and connection errors.
    case retry(reason: String)
    /// Any other 4xx: the receiver refuses these documents; `body` says why.
    case rejected(status: Int, body: [UInt8])

    /// The outcome of an HTTP status.
    public static func of(status: Int, body: [UInt8]) -> PushOutcome {
        switch status {
        case 200..<300: return .accepted(status: status)
        case 401, 403: return .retry(reason: "http.\(status) (check the endpoint's credentials)")
        case 408, 425, 429: return .retry(reason: "http.\(status)")
        case 400..<500: return .rejected(status: status, body: body)
        default: return .retry(reason: "http.\(status)")
        }
    }
}

/// Posts push requests with URLSession (FoundationNetworking): JSON, bearer token and/or signature,
/// a timeout, no redirects followed (a POST must not silently go elsewhere).
public final class FeedEndpoint: Sendable {
    /// The configuration (credentials included; its description hides them).
    public let configuration: FeedEndpointConfiguration
    private let session: URLSession

    /// An endpoint client for `configuration`.
    public init(_ configuration: FeedEndpointConfiguration) {
        self.configuration = configuration
        let settings = URLSessionConfiguration.ephemeral
        let seconds = TimeInterval(configuration.timeout.components.seconds) + TimeInterval(configuration.timeout.components.attoseconds) / 1e18
        settings.timeoutIntervalForRequest = seconds
        settings.timeoutIntervalForResource = seconds
        settings.httpShouldSetCookies = false
        settings.urlCache = nil
        session = URLSession(configuration: settings, delegate: RefuseRedirects(), delegateQueue: nil)
    }

    deinit { session.finishTasksAndInvalidate() }

    /// Posts `body` once and classifies the answer.
    public func post(_ body: [UInt8], now: Date = Date()) async -> PushOutcome {
        var request = URLRequest(url: configuration.url)
        request.httpMethod = "POST"
        request.httpBody = Data(body)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        // libcurl would otherwise wait for "100 Continue" before sending a large body.
        request.setValue("", forHTTPHeaderField: "Expect")
        if let token = configuration.bearerToken { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let key = configuration.signingKey {
            let timestamp = String(Int64(now.timeIntervalSince1970))
            request.setValue(timestamp, forHTTPHeaderField: FeedWire.timestampHeader)
            request.setValue(FeedWire.signature(body: body, timestamp: timestamp, key: key), forHTTPHeaderField: FeedWire.signatureHeader)
        }
        // Not `session.data(for:)`: in FoundationNetworking its cancellation handler cancels the
        // URLSession task synchronously while the runtime holds the Swift task's status lock, and a
        // response completing at that moment needs that lock to resume the caller: both threads wait
        // forever (seen when `hssk bench feed` cancelled its pusher mid-request). Here the URLSession
        // task is cancelled from another queue, after the cancellation handler has returned.
        let inFlight = InFlightRequest()
        let session = session
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<PushOutcome, Never>) in
                let task = session.dataTask(with: request) { data, response, error in
                    continuation.resume(returning: Self.outcome(data: data, response: response, error: error))
                }
                inFlight.start(task)
            }
        } onCancel: {
            inFlight.cancel()
        }
    }

    private static func outcome(data: Data?, response: URLResponse?, error: (any Error)?) -> PushOutcome {
        if let error = error as? URLError { return .retry(reason: "url.\(error.code.rawValue)") }
        if error != nil { return .retry(reason: "transport") }
        guard let http = response as? HTTPURLResponse else { return .retry(reason: "not an HTTP response") }
        return PushOutcome.of(status: http.statusCode, body: Array((data ?? Data()).prefix(64 * 1024)))
    }
}

/// One request's URLSession task, cancelled off the caller's cancellation handler (see `post`).
private final class InFlightRequest: Sendable {
    private let state = Mutex<(task: URLSessionDataTask?, cancelled: Bool)>((nil, false))

    /// Resumes `task`, or cancels it at once when the caller was cancelled before it existed.
    func start(_ task: URLSessionDataTask) {
        let cancelled = state.withLock { state in
            state.task = task
            return state.cancelled
        }
        task.resume()
        if cancelled { Self.cancelLater(task) }
    }

    func cancel() {
        let task = state.withLock { state in
            state.cancelled = true
            return state.task
        }
        if let task { Self.cancelLater(task) }
    }

    private static func cancelLater(_ task: URLSessionDataTask) {
        DispatchQueue.global().async { task.cancel() }
    }
}

/// Refuses redirects: the 3xx answer itself is returned and retried as a misconfiguration.
private final class RefuseRedirects: NSObject, URLSessionTaskDelegate, Sendable {
    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void) {
        completionHandler(nil)
    }
}
