import CitizenFeed
import Foundation
import Ingest
import InsuranceSync
import ServiceRuntime
import XCTest

/// deploy/ (Docker Compose, Kubernetes, systemd) stays consistent with the code: the files parse, have
/// the structure the issue asks for, name only real commands, options and `HSSK_*` variables, and
/// carry no secret. Docker and a cluster are not needed: the files are read, not run.
final class DeployFilesTests: XCTestCase {
    private let deploy = repositoryRoot.appendingPathComponent("deploy")

    // MARK: structure

    func testComposeFileHasTheKafkaClusterPostgresInitJobsAndServices() throws {
        let compose = try YAMLSubsetParser.parse(contentsOf: deploy.appendingPathComponent("compose/docker-compose.yml"))
        let services = try XCTUnwrap(compose["services"])
        let voters = ["1@kafka-1:9093", "2@kafka-2:9093", "3@kafka-3:9093"].joined(separator: ",")
        for broker in ["kafka-1", "kafka-2", "kafka-3"] {
            let node = try XCTUnwrap(services[broker], broker)
            XCTAssertTrue(node["image"]?.string?.hasPrefix("apache/kafka:") == true, broker)
            let environment = try XCTUnwrap(node["environment"], broker)
            XCTAssertEqual(environment["KAFKA_PROCESS_ROLES"]?.string, "broker,controller", broker)
            XCTAssertEqual(environment["KAFKA_CONTROLLER_QUORUM_VOTERS"]?.string, voters, broker)
            XCTAssertEqual(environment["KAFKA_DEFAULT_REPLICATION_FACTOR"]?.string, "3", broker)
            XCTAssertEqual(environment["KAFKA_MIN_INSYNC_REPLICAS"]?.string, "2", broker)
            XCTAssertEqual(environment["KAFKA_SASL_ENABLED_MECHANISMS"]?.string, "SCRAM-SHA-512", broker)
            XCTAssertTrue(environment["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]?.string?.contains("SASL_SSL:SASL_SSL") == true, broker)
            // apache/kafka's start script configures the keystore only when an advertised listener reads "SSL://".
            XCTAssertTrue(environment["KAFKA_ADVERTISED_LISTENERS"]?.string?.contains("SSL://kafka-") == true, broker)
            XCTAssertEqual(environment["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"]?.string, "false", broker)
            XCTAssertNotNil(node["healthcheck"]?["test"], broker)
        }
        XCTAssertEqual(services["postgres"]?.at("environment.POSTGRES_PASSWORD_FILE")?.string, "/run/secrets/postgres-password")
        XCTAssertEqual(services["kafka-init"]?["restart"]?.string, "no")
        XCTAssertEqual(services["topics-init"]?["command"]?.strings.prefix(2), ["topics", "apply"])

        let hsskServices = ["ingest": ["ingest"], "feed-publish": ["feed", "publish"], "feed-push": ["feed", "push"],
                            "insurance-sync": ["insurance", "sync"]]
        for (name, command) in hsskServices {
            let service = try XCTUnwrap(services[name], name)
            XCTAssertEqual(Array(service["command"]?.strings.prefix(command.count) ?? []), command, name)
            XCTAssertEqual(service["restart"]?.string, "unless-stopped", name)
            XCTAssertEqual(service["stop_grace_period"]?.string, "60s", "\(name): time to finish the batch on SIGTERM")
            XCTAssertTrue(service.at("healthcheck.test")?.strings.contains { $0.hasSuffix(":9464/healthz") } == true, name)
            XCTAssertEqual(service.at("depends_on.topics-init.condition")?.string, "service_completed_successfully", name)
        }
        XCTAssertEqual(services["ingest"]?.at("deploy.replicas")?.string, "2")

        // Every secret a service uses is declared, and every declared secret is a file under ./secrets/.
        let declared = Dictionary(uniqueKeysWithValues: (compose["secrets"]?.pairs ?? []).map { ($0.key, $0.value) })
        for (key, value) in declared {
            XCTAssertTrue(value["file"]?.string?.hasPrefix("./secrets/") == true, "secret \(key) must be a file under ./secrets/")
        }
        for (name, service) in services.pairs {
            for secret in service["secrets"]?.items ?? [] {
                let source = secret.string ?? secret["source"]?.string ?? ""
                XCTAssertNotNil(declared[source], "\(name) uses undeclared secret '\(source)'")
            }
        }
        let ignore = try String(contentsOf: deploy.appendingPathComponent("compose/.gitignore"), encoding: .utf8)
        XCTAssertTrue(ignore.split(separator: "\n").contains("secrets/"), "deploy/compose/secrets/ must be git-ignored")
    }

    func testGenerateSecretsWritesEveryFileTheComposeFileMounts() throws {
        let compose = try YAMLSubsetParser.parse(contentsOf: deploy.appendingPathComponent("compose/docker-compose.yml"))
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hssk-secrets-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        // The script runs `hssk keys generate`: the binary under test is first on PATH.
        let binaries = URL(fileURLWithPath: hssk).deletingLastPathComponent().path
        let path = binaries + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        let script = deploy.appendingPathComponent("compose/scripts/generate-secrets.sh").path
        let run = try runCommand("/usr/bin/env", ["PATH=\(path)", "bash", script, folder.path])
        XCTAssertEqual(run.status, 0, run.output)
        for (name, secret) in compose["secrets"]?.pairs ?? [] {
            let file = try XCTUnwrap(secret["file"]?.string, name).replacingOccurrences(of: "./secrets/", with: "")
            XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent(file).path), "secret \(name): \(file) not generated")
        }
        let attributes = try FileManager.default.attributesOfItem(atPath: folder.path)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o700, "the secrets folder is private")
        // The store key file is what `hssk keys generate` writes, and runs are repeatable.
        XCTAssertTrue(try String(contentsOf: folder.appendingPathComponent("hssk-store-keys.json"), encoding: .utf8).contains("{"))
        let again = try runCommand("/usr/bin/env", ["PATH=\(path)", "bash", script, folder.path])
        XCTAssertEqual(again.status, 0, again.output)
    }

    func testKubernetesManifestsParseAndHaveProbesLimitsAndASecuredPod() throws {
        let folder = deploy.appendingPathComponent("k8s")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".yaml") }.sorted()
        var manifests: [String: YAMLValue] = [:]
        for file in files { manifests[file] = try YAMLSubsetParser.parse(contentsOf: folder.appendingPathComponent(file)) }

        let kustomization = try XCTUnwrap(manifests["kustomization.yaml"])
        let listed = Set(kustomization["resources"]?.strings ?? [])
        for file in files where file != "kustomization.yaml" {
            let manifest = try XCTUnwrap(manifests[file])
            XCTAssertNotNil(manifest["apiVersion"]?.string, file)
            let kind = try XCTUnwrap(manifest["kind"]?.string, file)
            XCTAssertNotNil(manifest.at("metadata.name")?.string, file)
            if kind != "Namespace" { XCTAssertEqual(manifest.at("metadata.namespace")?.string, "hssk", file) }
            // Secret templates are applied by hand from files (README), never by kustomize.
            if kind == "Secret" { XCTAssertFalse(listed.contains(file), "\(file) is a template and must not be applied") } else {
                XCTAssertTrue(listed.contains(file), "\(file) is not listed in kustomization.yaml")
            }
        }

        var deployments: [String: YAMLValue] = [:]
        for (file, manifest) in manifests where manifest["kind"]?.string == "Deployment" {
            deployments[manifest.at("metadata.name")?.string ?? file] = manifest
            let pod = try XCTUnwrap(manifest.at("spec.template.spec"), file)
            XCTAssertEqual(pod.at("securityContext.runAsNonRoot")?.string, "true", file)
            for container in pod["containers"]?.items ?? [] {
                XCTAssertEqual(container.at("securityContext.readOnlyRootFilesystem")?.string, "true", file)
                XCTAssertEqual(container.at("securityContext.allowPrivilegeEscalation")?.string, "false", file)
                XCTAssertEqual(container.at("readinessProbe.httpGet.path")?.string, "/healthz", file)
                XCTAssertEqual(container.at("livenessProbe.httpGet.path")?.string, "/healthz/live", file)
                XCTAssertEqual(container.at("ports.0.containerPort")?.string, "9464", file)
                XCTAssertNotNil(container.at("resources.requests.cpu"), file)
                XCTAssertNotNil(container.at("resources.limits.memory"), file)
            }
        }
        XCTAssertEqual(Set(deployments.keys), ["hssk-ingest", "hssk-feed-publish", "hssk-feed-push", "hssk-insurance-sync"])
        XCTAssertEqual(deployments["hssk-ingest"]?.at("spec.replicas")?.string, "2")

        let backup = try XCTUnwrap(manifests["backup-cronjob.yaml"])
        XCTAssertEqual(backup["kind"]?.string, "CronJob")
        let schedule = try XCTUnwrap(backup.at("spec.schedule")?.string)
        XCTAssertNotNil(schedule.range(of: #"^([0-5]?[0-9]) ([01]?[0-9]|2[0-3]) \* \* \*$"#, options: .regularExpression),
                        "the backup runs daily at a fixed time, not '\(schedule)'")
        XCTAssertEqual(backup.at("spec.timeZone")?.string, "Asia/Ho_Chi_Minh")
        XCTAssertEqual(backup.at("spec.concurrencyPolicy")?.string, "Forbid")
        let job = try XCTUnwrap(backup.at("spec.jobTemplate.spec.template.spec"))
        XCTAssertEqual(job.at("initContainers.0.args.0")?.string, "backup")
        let claim = try XCTUnwrap(job["volumes"]?.items.compactMap { $0.at("persistentVolumeClaim.claimName")?.string }.first)
        XCTAssertEqual(manifests["backup-pvc.yaml"]?.at("metadata.name")?.string, claim, "backups go to their own volume")
        let postgresVolume = manifests["postgres.yaml"]?.at("spec.volumeClaimTemplates.0.metadata.name")?.string
        XCTAssertNotEqual(claim, postgresVolume)

        // Secret manifests are templates: placeholders only.
        for (file, manifest) in manifests where manifest["kind"]?.string == "Secret" {
            XCTAssertNil(manifest["data"], "\(file): use stringData placeholders, not data")
            for (key, value) in manifest["stringData"]?.pairs ?? [] {
                XCTAssertNotNil(value.string?.wholeMatch(of: /<[^>]+>/), "\(file): \(key) must be a <placeholder>")
            }
        }

        let policy = try XCTUnwrap(manifests["networkpolicy.yaml"])
        XCTAssertEqual(policy.at("spec.ingress.0.ports.0.port")?.string, "9464")
        XCTAssertEqual(policy.at("spec.policyTypes.0")?.string, "Ingress")
    }

    func testYAMLSubsetParserIsStrict() throws {
        let good = try YAMLSubsetParser.parse("""
            # comment
            a: 1
            b:
              - x
              - k: v
                l: "quoted # not a comment"
            c: |
              line one
              # kept
            d: {}
            """, file: "good.yaml")
        XCTAssertEqual(good.at("b.1.l")?.string, "quoted # not a comment")
        XCTAssertEqual(good["c"]?.string, "line one\n# kept\n")
        XCTAssertEqual(good["d"], .mapping([]))
        for bad in ["a: &anchor 1", "a: *alias", "a: [1, 2]", "a: {b: 1}", "a: 1\na: 2", "a:\n\t- x", "a: >\n  folded", "---\na: 1",
                    "a:\n  - x\n   y: 1", "a: !tag x"] {
            XCTAssertThrowsError(try YAMLSubsetParser.parse(bad, file: "bad.yaml"), bad)
        }
    }

    // MARK: commands, options and environment names

    /// Every hssk invocation in deploy/ (compose commands, Kubernetes args, systemd ExecStart lines),
    /// every key of the config files and every `HSSK_*` variable is a real command and option.
    /// The contract options `--config`, `--admin` and `--kafka-secret` land with branch `obs`.
    func testEveryCommandOptionConfigKeyAndVariableExists() throws {
        var problems: [String] = []
        var invocations: [(origin: String, arguments: [String], environment: [String])] = []

        let compose = try YAMLSubsetParser.parse(contentsOf: deploy.appendingPathComponent("compose/docker-compose.yml"))
        for (name, service) in compose["services"]?.pairs ?? [] where service["image"]?.string?.hasPrefix("hssk") == true {
            invocations.append(("compose \(name)", service["command"]?.strings ?? [],
                                (service["environment"]?.pairs ?? []).map(\.key)))
        }
        let k8s = deploy.appendingPathComponent("k8s")
        for file in try FileManager.default.contentsOfDirectory(atPath: k8s.path) where file.hasSuffix(".yaml") {
            let manifest = try YAMLSubsetParser.parse(contentsOf: k8s.appendingPathComponent(file))
            let pod = manifest.at("spec.template.spec") ?? manifest.at("spec.jobTemplate.spec.template.spec")
            for container in (pod?["initContainers"]?.items ?? []) + (pod?["containers"]?.items ?? [])
            where container["image"]?.string?.contains("/hssk:") == true {
                invocations.append(("k8s \(file)", container["args"]?.strings ?? [],
                                    (container["env"]?.items ?? []).compactMap { $0["name"]?.string }))
            }
        }
        let systemd = deploy.appendingPathComponent("systemd")
        for file in try FileManager.default.contentsOfDirectory(atPath: systemd.path) where file.hasSuffix(".service") {
            let unit = try String(contentsOf: systemd.appendingPathComponent(file), encoding: .utf8).split(separator: "\n").map(String.init)
            let environment = unit.filter { $0.hasPrefix("Environment=") }.compactMap { $0.dropFirst("Environment=".count).split(separator: "=").first.map(String.init) }
            // Variables ExecStart takes from EnvironmentFile= (e.g. ${HSSK_STORE}) are names hssk also reads.
            let referenced = unit.filter { $0.hasPrefix("Exec") }.flatMap { line in
                line.matches(of: /\$\{(HSSK_[A-Z_]+)\}/).map { String($0.1) }
            }
            for line in unit where line.hasPrefix("ExecStart=") || line.hasPrefix("ExecStartPost=") {
                let words = line.split(separator: "=", maxSplits: 1)[1].split(separator: " ").map(String.init)
                guard words.first == "/usr/local/bin/hssk" else { problems.append("\(file): \(line) does not run /usr/local/bin/hssk"); continue }
                invocations.append(("systemd \(file)", Array(words.dropFirst()), environment + referenced))
            }
        }
        XCTAssertGreaterThanOrEqual(invocations.count, 15, "hssk invocations found: \(invocations.map(\.origin))")

        var configUsers: [String: [[String]]] = [:]   // config file → command paths that read it
        for invocation in invocations {
            let (path, options) = try commandPath(invocation.arguments)
            guard let known = try optionsOf(path) else {
                problems.append("\(invocation.origin): 'hssk \(path.joined(separator: " "))' is not a command")
                continue
            }
            for option in options where !known.contains(option) {
                problems.append("\(invocation.origin): hssk \(path.joined(separator: " ")) has no option --\(option)")
            }
            if let index = invocation.arguments.firstIndex(of: "--config"), index + 1 < invocation.arguments.count {
                configUsers[invocation.origin.split(separator: " ")[0] + ":" + invocation.arguments[index + 1], default: []].append(path)
            }
            for name in invocation.environment where name.hasPrefix("HSSK_") && !Self.imageVariables.contains(name) {
                let option = name.dropFirst(5).lowercased().replacingOccurrences(of: "_", with: "-")
                if !known.contains(option) {
                    problems.append("\(invocation.origin): \(name) is not an option of hssk \(path.joined(separator: " ")) (no --\(option))")
                }
            }
        }

        // The config files: sections are commands, keys their options; "common" applies to every
        // command started with that file that has the option, so each of its keys must be an option of
        // at least one of them (docs/configuration.md: a key no command has is an error).
        let configFiles: [(origin: String, json: Data)] = [
            ("compose", try Data(contentsOf: deploy.appendingPathComponent("compose/hssk.json"))),
            ("k8s", Data(try XCTUnwrap(YAMLSubsetParser.parse(contentsOf: k8s.appendingPathComponent("configmap.yaml")).at("data")?["hssk.json"]?.string).utf8)),
            ("systemd", try Data(contentsOf: systemd.appendingPathComponent("hssk.json"))),
        ]
        for (origin, json) in configFiles {
            guard let sections = try JSONSerialization.jsonObject(with: json) as? [String: [String: Any]] else {
                problems.append("\(origin) config: not an object of sections")
                continue
            }
            let users = configUsers.filter { $0.key.hasPrefix(origin + ":") }.flatMap(\.value)
            XCTAssertFalse(users.isEmpty, "no service of \(origin) reads its config file")
            for (section, values) in sections {
                if section == "common" {
                    let known = try users.compactMap { try optionsOf($0) }.reduce(into: Set<String>()) { $0.formUnion($1) }
                    for key in values.keys where !known.contains(key) {
                        problems.append("\(origin) config: 'common' key '\(key)' is an option of none of \(users.map { $0.joined(separator: " ") })")
                    }
                    continue
                }
                let path = section.split(separator: " ").map(String.init)
                guard let known = try optionsOf(path) else { problems.append("\(origin) config: section '\(section)' is not a command"); continue }
                for key in values.keys where !known.contains(key) {
                    problems.append("\(origin) config: '\(section)' key '\(key)' is not an option of hssk \(section)")
                }
            }
        }
        XCTAssertTrue(problems.isEmpty, "deploy/ names what hssk does not have:\n" + Set(problems).sorted().joined(separator: "\n"))
    }

    /// Variables the image or hssk read besides the `HSSK_<OPTION>` overrides.
    private static let imageVariables: Set<String> = ["HSSK_KEYS", "HSSK_KEYS_FILE", "HSSK_TOPICS_DIR", "HSSK_CONFIG"]

    // MARK: secrets

    /// No password-looking literal anywhere in deploy/: secrets are files, placeholders or references.
    func testNoSecretIsWrittenInTheDeployFiles() throws {
        var problems: [String] = []
        let files = FileManager.default.enumerator(at: deploy, includingPropertiesForKeys: nil)?.compactMap { $0 as? URL } ?? []
        let secretKey = /(?i)(password|passwd|secret|token|api[-_]?key|private[-_]?key)/
        // Keys that name where a secret is, not the secret itself.
        let reference = /(?i).*(name|file|files|ref|dir|location|credentials)/
        // Allowed values: <placeholders>, paths, shell or systemd references, a printf format's %s
        // (the value comes from a file), secret file names.
        let placeholder = /^(<[^>]+>|\/.*|\$.*|%d\/.*|%s(\\n)?'?|[A-Za-z0-9._-]+\.(password|key|p12|crt|properties|json))$/
        for file in files where ["yml", "yaml", "json", "service", "timer", "sh", "txt", "conf"].contains(file.pathExtension) {
            let name = file.path.replacingOccurrences(of: deploy.path + "/", with: "")
            if name.hasPrefix("compose/secrets/") { continue }
            let text = try String(contentsOf: file, encoding: .utf8)
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let content = line.trimmingCharacters(in: .whitespaces)
                if content.hasPrefix("#") || content.hasPrefix("//") { continue }
                // key: value / KEY=value / "key": "value" with a secret-sounding key and a literal value.
                for match in content.matches(of: /"?([A-Za-z0-9_.-]+)"?\s*[:=]\s*(?:"([^"]*)"|([^",\s\[\]{}]+))/) {
                    let key = String(match.1), value = String(match.2 ?? match.3 ?? "")
                    guard key.contains(secretKey), key.wholeMatch(of: reference) == nil, !value.isEmpty,
                          value.wholeMatch(of: placeholder) == nil, value.contains(where: { $0.isLetter || $0.isNumber }),
                          !["true", "false", "SCRAM-SHA-512"].contains(value) else { continue }
                    problems.append("\(name):\(number + 1): \(key) = \(value)")
                }
                // A password inside a URL (postgres://user:password@host).
                if content.contains(/[a-z]+:\/\/[^\/\s:@]+:[^\/\s@]+@/) { problems.append("\(name):\(number + 1): password in a URL") }
            }
        }
        // librdkafka secrets reach hssk only through --kafka-secret files, never as --kafka values.
        for config in ["compose/hssk.json", "systemd/hssk.json"] {
            let sections = try JSONSerialization.jsonObject(with: Data(contentsOf: deploy.appendingPathComponent(config))) as? [String: [String: Any]]
            for (section, values) in sections ?? [:] {
                for property in values["kafka"] as? [String] ?? [] where property.contains(/^[a-z.]*password=/) {
                    problems.append("\(config): '\(section)' passes \(property.prefix { $0 != "=" }) inline: use kafka-secret")
                }
            }
        }
        XCTAssertTrue(problems.isEmpty, "secret-looking literals:\n" + problems.joined(separator: "\n"))
    }

    /// One grant of deploy/compose/kafka-acls.txt.
    private struct Grant {
        var user: String
        var operations: Set<String>
        var resource: String
    }

    private func aclTable() throws -> [Grant] {
        let text = try String(contentsOf: deploy.appendingPathComponent("compose/kafka-acls.txt"), encoding: .utf8)
        return text.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.allSatisfy(\.isWhitespace) }.map { line in
            let fields = line.split(whereSeparator: \.isWhitespace).map(String.init)
            return Grant(user: fields[0], operations: Set(fields[1].split(separator: ",").map(String.init)), resource: fields.count > 2 ? fields[2] : "")
        }
    }

    /// The ACL table grants each service exactly the topics and groups its code uses (the defaults the
    /// services run with), and the operators' account what `topics apply|check` need; the deploy
    /// test (make test-deploy) then runs every service under these grants on a real Kafka.
    func testKafkaACLTableGrantsWhatEachServiceUses() throws {
        let grants = try aclTable()
        XCTAssertTrue(grants.allSatisfy { $0.resource.contains(/^(topic|topic-prefix|group|group-prefix):.+$|^cluster$/) }, "a line is not USER OPERATIONS RESOURCE")
        // What each user of the table must be granted: exactly this, nothing more.
        var expected: [String: [String: Set<String>]] = [:]
        let ingest = IngestConfiguration(bootstrapServers: "")
        for topic in Set(ingest.topics.values) {
            expected["hssk-ingest", default: [:]]["topic:\(topic)"] = ["Read", "Describe"]
            expected["hssk-ingest", default: [:]]["topic:\(SourceTopics.deadLetterTopic(of: topic))"] = ["Read", "Write", "Describe"]
        }
        expected["hssk-ingest", default: [:]]["group:\(ingest.group)"] = ["Read", "Describe"]
        let feed = FeedPusherConfiguration()
        expected["hssk-feed-publish"] = ["topic:\(FeedHeaders.topic)": ["Write", "Describe"]]
        expected["hssk-feed-push"] = ["topic:\(feed.topic)": ["Read", "Describe"], "topic:\(feed.deadLetterTopic)": ["Write", "Describe"],
                                      "group:\(FeedPusherConfiguration.group)": ["Read", "Describe"]]
        let insurance = InsuranceSyncConfiguration(bootstrapServers: "")
        expected["hssk-insurance-sync"] = ["topic:\(insurance.supplementsTopic)": ["Write", "Describe"], "topic:\(insurance.acksTopic)": ["Read", "Describe"],
                                           "topic:\(SourceTopics.deadLetterTopic(of: insurance.acksTopic))": ["Read", "Write", "Describe"],
                                           "group:\(insurance.group)": ["Read", "Describe"]]
        // Only the operators' account reads topic configs (topics check); hssk changes none.
        expected["hssk-admin"] = ["topic-prefix:hssk.": ["Create", "Describe", "DescribeConfigs", "Read", "Write"]]
        expected["@account"] = ["topic:{source-topic}": ["Write", "Describe"]]
        expected["@bhxh"] = ["topic:\(insurance.supplementsTopic)": ["Read", "Describe"], "group:{account}": ["Read", "Describe"],
                             "group-prefix:{account}.": ["Read", "Describe"]]
        for user in ["hssk-admin", "hssk-ingest", "hssk-feed-publish", "hssk-feed-push", "hssk-insurance-sync", "@account"] {
            expected[user, default: [:]]["cluster"] = ["IdempotentWrite"]
        }
        var actual: [String: [String: Set<String>]] = [:]
        for grant in grants { actual[grant.user, default: [:]][grant.resource, default: []].formUnion(grant.operations) }
        XCTAssertEqual(Set(actual.keys), Set(expected.keys), "the table's users")
        for (user, resources) in expected {
            XCTAssertEqual(actual[user] ?? [:], resources, user)
        }
        // Every topic the table names is in the catalogue.
        let catalogue = Set(try FileManager.default.contentsOfDirectory(atPath: repositoryRoot.appendingPathComponent("topics").path)
            .filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) })
        for grant in grants where grant.resource.hasPrefix("topic:") && !grant.resource.contains("{") {
            XCTAssertTrue(catalogue.contains(String(grant.resource.dropFirst(6))), "kafka-acls.txt names \(grant.resource), which is not in topics/")
        }
        // The groups are the commands' defaults.
        for (command, group) in [(["ingest"], ingest.group), (["insurance", "sync"], insurance.group)] {
            let help = try runCommand(hssk, command + ["--help"]).output
            XCTAssertTrue(help.contains("(default: \(group))"), "\(command) group default is not \(group)")
        }
        // Interop accounts follow docs/operations/accounts.md.
        let accounts = try String(contentsOf: deploy.appendingPathComponent("compose/kafka-accounts.txt"), encoding: .utf8)
        for line in accounts.split(separator: "\n") where !line.hasPrefix("#") {
            let name = String(line.split(separator: " ")[0])
            XCTAssertNotNil(name.wholeMatch(of: /([0-9A-Z]{5}|[0-9]{13})_lt_[a-z0-9]+|bhxh_lt_[a-z0-9]+/), "\(name) is not an interop account name")
        }
    }

    // MARK: helpers

    /// Splits `feed push --config F` into the command path and the option names used.
    private func commandPath(_ arguments: [String]) throws -> ([String], [String]) {
        var path: [String] = []
        var index = 0
        while index < arguments.count, !arguments[index].hasPrefix("--") {
            let candidate = path + [arguments[index]]
            guard let help = try helpText(candidate) else { break }
            path = candidate
            index += 1
            if !help.contains("\nSubcommands:\n") { break }
        }
        let options = arguments[index...].filter { $0.hasPrefix("--") }.map { String($0.dropFirst(2).split(separator: "=")[0]) }
        return (path, options)
    }

    private var helpCache: [[String]: String?] = [:]

    private func helpText(_ path: [String]) throws -> String? {
        if let cached = helpCache[path] { return cached }
        let result = try runCommand(hssk, path + ["--help"])
        let help = result.status == 0 && result.output.contains("Usage: hssk") ? result.output : nil
        helpCache[path] = help
        return help
    }

    /// The options `hssk PATH --help` lists, or nil when PATH is not a command.
    private func optionsOf(_ path: [String]) throws -> Set<String>? {
        guard !path.isEmpty, let help = try helpText(path), !help.contains("\nSubcommands:\n") else { return nil }
        return Set(help.split(separator: "\n").compactMap { line in
            line.wholeMatch(of: #/ {2}--([a-z0-9-]+).*/#).map { String($0.1) }
        })
    }
}
