import CitizenFeed
import Foundation
import Kafka
import RecordStore
import ServiceRuntime
import Tooling

// hssk feed publish / push / sink: the citizen feed (docs/citizen-feed.md).


let feedCommand = Command(
    name: "feed", summary: "The citizen feed: publish documents from the store, push them to the citizen app, or receive them (tests, demo).",
    usage: "feed <publish|push|sink> [options]", options: [],
    subcommands: [feedPublishCommand, feedPushCommand, feedSinkCommand])

let feedPublishCommand = Command(
    name: "publish", summary: "Build citizen documents from the store's outbox and produce them to hssk.citizen-feed.v1 (runs until SIGTERM).",
    usage: "feed publish --bootstrap B --store PATH|URL [--keys FILE] [--restricted FILE]",
    details: """
    Each changed person's document is rebuilt from the store (allowlisted fields, restricted data
    removed), keyed by the active personal ID, versioned by the outbox id; the person's other personal
    IDs get tombstones. What the restricted-data filter removed is logged as counts per rule.
    Logs are JSON lines on stderr. Exit 0 after SIGINT/SIGTERM, 1 on a fatal error.
    """,
    options: [
        Option(name: "bootstrap", value: "HOST:PORT,...", help: "Kafka brokers."),
        Option(name: "store", value: "PATH|URL", help: "SQLite file or postgres:// URL of the store."),
        Option(name: "keys", value: "FILE", help: "Key file (JSON); else \(KeyRing.environmentVariable) or \(KeyRing.fileEnvironmentVariable)."),
        Option(name: "restricted", value: "FILE",
               help: "Restricted-data list (JSON: icd10, atc, ingredients, terms); adds to the legal minimum.", defaultValue: "built-in list"),
        Option(name: "topic", value: "NAME", help: "Feed topic.", defaultValue: FeedHeaders.topic),
        Option(name: "batch", value: "N", help: "Outbox rows per round.", defaultValue: "500", range: 1...10_000),
        kafkaOption, adminOption,
    ],
    run: { arguments in
        guard let bootstrap = arguments.string("bootstrap") else { throw UsageError(description: "--bootstrap is required") }
        guard let location = arguments.string("store") else { throw UsageError(description: "--store is required") }
        var configuration = FeedPublisherConfiguration()
        configuration.batchSize = try arguments.int("batch", default: 500)
        configuration.topic = arguments.string("topic") ?? FeedHeaders.topic
        if let path = arguments.string("restricted") {
            do {
                configuration.builder = CitizenDocumentBuilder(filter: RestrictedDataFilter(policy: try RestrictedDataPolicy(contentsOf: URL(fileURLWithPath: path))))
            } catch { throw UsageError(description: "--restricted: \(error)") }
        }
        let producer = try await Producer.checked(client: try kafkaClient(arguments, bootstrap: bootstrap), topic: configuration.topic)
        do {
            try await withServiceStore(location, keys: try KeyRing.load(path: arguments.string("keys")), mustExist: true) { store in
                try await ServiceRunner.run(try withAdminEndpoint(FeedPublisher(store: store, producer: producer, configuration: configuration), arguments))
            }
        } catch {
            try? await producer.close(timeout: .seconds(10))
            throw error
        }
        try await producer.close(timeout: .seconds(30))
        return 0
    })

let feedPushCommand = Command(
    name: "push", summary: "Post the feed's documents to the citizen app's HTTPS endpoint (group hssk-feed-push; runs until SIGTERM).",
    usage: "feed push --bootstrap B --endpoint URL [--token-file F] [--key-file K]",
    details: """
    Batches of documents are posted as JSON, each item with its idempotency key (personal ID +
    version). 5xx, timeouts and connection errors (also 401/403/408/425/429) are retried with
    exponential back-off and jitter; nothing is committed meanwhile. Other 4xx: the document goes to
    hssk.citizen-feed.v1.dlq with the response. Credentials are read from files and never logged.
    """,
    options: [
        Option(name: "bootstrap", value: "HOST:PORT,...", help: "Kafka brokers."),
        Option(name: "endpoint", value: "URL", help: "The receiver's URL (https; http only for tests on this machine)."),
        Option(name: "token-file", value: "FILE", help: "Bearer token (one line)."),
        Option(name: "key-file", value: "FILE", help: "HMAC key shared with the receiver (hex or base64, ≥ 16 bytes): signs each request."),
        Option(name: "timeout", value: "SECONDS", help: "Longest wait for a response.", defaultValue: "30", range: 1...600),
        Option(name: "batch", value: "N", help: "Records per request.", defaultValue: "200", range: 1...10_000),
        Option(name: "topic", value: "NAME", help: "Feed topic.", defaultValue: FeedHeaders.topic),
        kafkaOption, adminOption,
    ],
    run: { arguments in
        guard let bootstrap = arguments.string("bootstrap") else { throw UsageError(description: "--bootstrap is required") }
        guard let text = arguments.string("endpoint"), let url = URL(string: text), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
            throw UsageError(description: "--endpoint must be an http(s) URL")
        }
        var endpoint = FeedEndpointConfiguration(url: url, bearerToken: try secretLine(arguments.string("token-file"), option: "token-file"),
                                                 signingKey: try signingKey(arguments.string("key-file")))
        endpoint.timeout = .seconds(try arguments.int("timeout", default: 30))
        if url.scheme == "http", !["127.0.0.1", "localhost", "::1"].contains(url.host ?? "") {
            EventLog.standardError.event(.warning, "feed.push.plainHTTP", ["host": .text(url.host ?? ""), "advice": "use https outside tests"])
        }
        if endpoint.bearerToken == nil && endpoint.signingKey == nil {
            EventLog.standardError.event(.warning, "feed.push.unauthenticated", ["advice": "give --token-file or --key-file"])
        }
        var configuration = FeedPusherConfiguration()
        configuration.batchSize = try arguments.int("batch", default: 200)
        configuration.topic = arguments.string("topic") ?? FeedHeaders.topic
        configuration.deadLetterTopic = configuration.topic + ".dlq"
        let client = try kafkaClient(arguments, bootstrap: bootstrap)
        let producer = try await Producer.checked(client: client, topic: configuration.deadLetterTopic)
        var consumerConfig = ConsumerConfig(bootstrapServers: bootstrap, groupID: FeedPusherConfiguration.group)
        consumerConfig.client = client
        let consumer = try Consumer(config: consumerConfig)
        let pusher = FeedPusher(consumer: consumer, endpoint: FeedEndpoint(endpoint), producer: producer, configuration: configuration)
        do {
            try await ServiceRunner.run(try withAdminEndpoint(pusher, arguments))
        } catch {
            try? await consumer.close()
            try? await producer.close(timeout: .seconds(10))
            throw error
        }
        try await consumer.close()
        try await producer.close(timeout: .seconds(30))
        return 0
    })

let feedSinkCommand = Command(
    name: "sink", summary: "Reference receiver for tests and the demo: verifies, records and reports what the pusher posts.",
    usage: "feed sink --port P --out FILE [--key-file K] [--token-file F] [--fail-next N] [--fail-for SECONDS]",
    details: """
    Prints 'listening: <url>' once ready. Every item received is appended to FILE as a JSON line
    (with duplicate / outOfOrder flags). GET /_stats gives the counts; POST /_control?failNext=N&
    status=S&failForSeconds=T changes the failure plan (same credentials as pushes). Runs until
    SIGINT/SIGTERM, then prints the counts. Not for production: FILE holds the documents in clear.
    """,
    options: [
        Option(name: "port", value: "P", help: "Port (0: any free port)."),
        Option(name: "out", value: "FILE", help: "JSON Lines file of the items received (appended)."),
        Option(name: "host", value: "ADDRESS", help: "IPv4 address to listen on.", defaultValue: "127.0.0.1"),
        Option(name: "key-file", value: "FILE", help: "HMAC key: requests must be signed with it."),
        Option(name: "token-file", value: "FILE", help: "Bearer token requests must carry."),
        Option(name: "fail-next", value: "N", help: "Fail the first N push requests."),
        Option(name: "fail-for", value: "SECONDS", help: "Fail every push request for this long after start."),
        Option(name: "fail-status", value: "STATUS", help: "Status of the failures.", defaultValue: "503"),
        Option(name: "reject-personal-id", value: "ID", help: "Refuse documents of this personal ID with 422 (repeatable).", repeatable: true),
    ],
    run: { arguments in
        guard arguments.string("port") != nil else { throw UsageError(description: "--port is required") }
        guard let out = arguments.string("out") else { throw UsageError(description: "--out is required") }
        var configuration = FeedSinkConfiguration()
        configuration.port = UInt16(try arguments.int("port", default: 0, in: 0...65_535))
        configuration.host = arguments.string("host") ?? "127.0.0.1"
        configuration.output = URL(fileURLWithPath: out)
        configuration.signingKey = try signingKey(arguments.string("key-file"))
        configuration.bearerToken = try secretLine(arguments.string("token-file"), option: "token-file")
        configuration.rejectPersonalIDs = Set(arguments.strings("reject-personal-id"))
        let status = try arguments.int("fail-status", default: 503, in: 100...599)
        let sink = try FeedSink(configuration)
        if arguments.string("fail-next") != nil { sink.failNext(try arguments.int("fail-next", default: 0, in: 0...1_000_000), status: status) }
        if arguments.string("fail-for") != nil { sink.failFor(.seconds(try arguments.int("fail-for", default: 0, in: 0...86_400)), status: status) }
        printLine("listening: \(sink.url.absoluteString)")
        try await ServiceRunner.run([sink])
        let report = sink.report
        printLine("received: \(report.items) items (\(report.upserts) documents, \(report.deletions) deletions), \(report.duplicates) duplicates, "
                  + "\(report.outOfOrder) out of order; \(report.requests) requests, \(report.failedOnPurpose) failed on purpose, "
                  + "\(report.unauthorized) unauthorized, \(report.rejected) rejected, \(report.malformed) malformed")
        return 0
    })

/// The first line of a secret file (a bearer token); nil without a path. The file's content never
/// appears in an error.
private func secretLine(_ path: String?, option: String) throws -> String? {
    guard let path else { return nil }
    guard let data = FileManager.default.contents(atPath: path), data.count <= 4096 else {
        throw UsageError(description: "--\(option): cannot read \(path) (or it is larger than 4 KiB)")
    }
    let line = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).first.map(String.init)?
        .trimmingCharacters(in: .whitespaces) ?? ""
    guard !line.isEmpty, line.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
        throw UsageError(description: "--\(option): \(path) must hold the token on its first line (printable ASCII, no spaces)")
    }
    return line
}

/// An HMAC key from a key file; nil without a path.
private func signingKey(_ path: String?) throws -> SigningKey? {
    guard let path else { return nil }
    do { return try SigningKey(contentsOf: URL(fileURLWithPath: path)) } catch { throw UsageError(description: "--key-file: \(error)") }
}
