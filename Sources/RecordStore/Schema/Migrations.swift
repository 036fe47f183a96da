import Foundation

/// One schema step: SQL statements (an array literal of them is a step), and for a step that rewrites
/// stored data with the keys, a pass the engine runs first, in batches of its own transactions.
struct MigrationStep: Sendable, ExpressibleByArrayLiteral {
    /// DDL and SQL, run in one transaction with the neighbouring SQL steps.
    var statements: [String]
    /// Data rewritten with the keys before the statements run; nil for SQL-only steps.
    var pass: MigrationPass?

    init(arrayLiteral statements: String...) {
        self.statements = statements
        self.pass = nil
    }

    init(pass: MigrationPass, statements: [String] = []) {
        self.statements = statements
        self.pass = pass
    }
}

/// A rewrite of stored data that needs the keys (so it cannot be SQL). It runs in batches, each in its
/// own transaction, and must be safe to interrupt and to run again: what it already rewrote is skipped.
enum MigrationPass: Sendable {
    /// Seals every column-bound (format 1) ciphertext again, bound to its row (format 2).
    case bindCiphertextsToRows
}

/// A column of encrypted data and what names its rows in the ciphertexts' associated data.
struct EncryptedColumn: Sendable {
    /// Table name.
    var table: String
    /// The table's integer primary key (verify and the passes page by it).
    var key: String
    /// The `*_enc` column.
    var column: String
    /// The column whose value names the row in the associated data (`RowKey`): the primary key, or
    /// the unique text or blind index the row is always found by.
    var row: String
    /// `table.column`, the column part of the associated data.
    var name: String { "\(table).\(column)" }
}

/// Versioned schema migrations, run on open: consecutive SQL steps in one transaction, a step with a
/// pass (`MigrationPass`) in resumable batches of its own.
///
/// DDL is shared by both backends; `{pk}`, `{int}` and `{blob}` become the dialect's words.
/// Personal and clinical data live only in `*_enc` columns (AES-256-GCM) and `*_index` columns
/// (HMAC-SHA256 blind indexes); plain columns hold codes, ids, times and Kafka coordinates.
enum Migrations {
    /// The newest schema this code writes.
    static let currentVersion = 10

    /// Migration `n` (1-based) brings the schema from version n-1 to n.
    static let steps: [MigrationStep] = [
        [
            """
            CREATE TABLE person (
              id {pk},
              status TEXT NOT NULL DEFAULT 'active',
              merged_into {int} REFERENCES person(id),
              demographics_enc {blob},
              created_at TEXT NOT NULL,
              updated_at TEXT NOT NULL)
            """,
            // Uniqueness belongs here, on ACTIVE personal IDs only (reference §6): an old number stays
            // findable after re-issue and is never given to anyone else.
            """
            CREATE TABLE identifier (
              id {pk},
              person_id {int} NOT NULL REFERENCES person(id),
              type TEXT NOT NULL,
              value_index {blob} NOT NULL,
              value_enc {blob} NOT NULL,
              valid_from TEXT NOT NULL,
              valid_to TEXT,
              source TEXT NOT NULL)
            """,
            "CREATE UNIQUE INDEX identifier_active_personal_id ON identifier(value_index) WHERE type = 'personalId' AND valid_to IS NULL",
            // Blind indexes are domain-separated by type, so the value alone is selective; batch look-ups
            // query many values of mixed types at once.
            "CREATE INDEX identifier_value ON identifier(value_index)",
            "CREATE INDEX identifier_person ON identifier(person_id)",
            """
            CREATE TABLE blocking_key (
              id {pk},
              person_id {int} NOT NULL REFERENCES person(id),
              key_index {blob} NOT NULL)
            """,
            "CREATE UNIQUE INDEX blocking_key_unique ON blocking_key(key_index, person_id)",
            "CREATE INDEX blocking_key_person ON blocking_key(person_id)",
            // The source key may be personal (BHXH numbers key card changes): blind index + ciphertext.
            """
            CREATE TABLE source_record (
              id {pk},
              kind TEXT NOT NULL,
              topic TEXT NOT NULL,
              kafka_partition {int} NOT NULL,
              kafka_offset {int} NOT NULL,
              sender TEXT NOT NULL,
              received_at TEXT NOT NULL,
              source_key_index {blob} NOT NULL,
              source_key_enc {blob} NOT NULL,
              content_index {blob} NOT NULL,
              original_enc {blob} NOT NULL,
              version {int} NOT NULL,
              superseded_by {int} REFERENCES source_record(id) DEFERRABLE INITIALLY DEFERRED,
              person_id {int} REFERENCES person(id))
            """,
            // Blind indexes are random: every such index dirties pages all over its B-tree on each
            // commit, so there is one per record. It finds every version of a key and makes an exact
            // duplicate impossible; "one current version per key" is kept by the (serialised)
            // writers and checked by verify(). (Replaced by (key, version) in a later step.)
            "CREATE UNIQUE INDEX source_record_content ON source_record(source_key_index, content_index)",
            "CREATE INDEX source_record_person ON source_record(person_id)",
            "CREATE INDEX source_record_position ON source_record(topic, kafka_partition, kafka_offset)",
            // Derived tables have one row per source key pointing at its current version (history stays
            // in source_record), except insurance_card, which is a history of card changes. They hold
            // codes and links only: the content is read from source_record.original_enc, never stored
            // twice. A new version moves the row (found by the old version's id: no random index).
            """
            CREATE TABLE visit (
              id {pk},
              source_record_id {int} NOT NULL UNIQUE REFERENCES source_record(id),
              person_id {int} REFERENCES person(id),
              facility_code TEXT NOT NULL,
              visit_type TEXT NOT NULL)
            """,
            "CREATE INDEX visit_person ON visit(person_id)",
            """
            CREATE TABLE vaccination (
              id {pk},
              source_record_id {int} NOT NULL UNIQUE REFERENCES source_record(id),
              person_id {int} REFERENCES person(id),
              site_code TEXT NOT NULL,
              vaccine_code TEXT NOT NULL,
              dose_number {int} NOT NULL)
            """,
            "CREATE INDEX vaccination_person ON vaccination(person_id)",
            """
            CREATE TABLE insurance_card (
              id {pk},
              source_record_id {int} NOT NULL REFERENCES source_record(id),
              person_id {int} REFERENCES person(id),
              bhxh_index {blob} NOT NULL,
              change_kind TEXT NOT NULL)
            """,
            "CREATE INDEX insurance_card_person ON insurance_card(person_id)",
            """
            CREATE TABLE registry_event (
              id {pk},
              source_record_id {int} NOT NULL UNIQUE REFERENCES source_record(id),
              person_id {int} REFERENCES person(id),
              station_code TEXT NOT NULL,
              event_kind TEXT NOT NULL)
            """,
            "CREATE INDEX registry_event_person ON registry_event(person_id)",
            """
            CREATE TABLE relation (
              id {pk},
              person_id {int} NOT NULL REFERENCES person(id),
              kind TEXT NOT NULL,
              related_person_id {int} NOT NULL REFERENCES person(id),
              created_at TEXT NOT NULL)
            """,
            "CREATE INDEX relation_person ON relation(person_id)",
            "CREATE INDEX relation_related ON relation(related_person_id)",
            """
            CREATE TABLE merge_log (
              id {pk},
              survivor_id {int} NOT NULL REFERENCES person(id),
              merged_id {int} NOT NULL REFERENCES person(id),
              reason TEXT NOT NULL,
              actor TEXT NOT NULL,
              moved TEXT NOT NULL,
              merged_at TEXT NOT NULL,
              undone_at TEXT,
              undone_by TEXT)
            """,
            """
            CREATE TABLE review_task (
              id {pk},
              kind TEXT NOT NULL,
              persons TEXT NOT NULL,
              evidence_enc {blob} NOT NULL,
              status TEXT NOT NULL DEFAULT 'open',
              resolution TEXT,
              created_at TEXT NOT NULL,
              resolved_at TEXT,
              resolved_by TEXT)
            """,
            "CREATE INDEX review_task_status ON review_task(status)",
            """
            CREATE TABLE outbox (
              id {pk},
              kind TEXT NOT NULL,
              msg_key TEXT NOT NULL,
              payload_enc {blob} NOT NULL,
              created_at TEXT NOT NULL,
              done_at TEXT)
            """,
            "CREATE INDEX outbox_pending ON outbox(kind, id) WHERE done_at IS NULL",
            """
            CREATE TABLE consumer_offset (
              group_id TEXT NOT NULL,
              topic TEXT NOT NULL,
              kafka_partition {int} NOT NULL,
              next_offset {int} NOT NULL,
              updated_at TEXT NOT NULL,
              PRIMARY KEY (group_id, topic, kafka_partition))
            """,
            """
            CREATE TABLE audit_log (
              seq {int} PRIMARY KEY,
              at TEXT NOT NULL,
              actor TEXT NOT NULL,
              action TEXT NOT NULL,
              subject TEXT NOT NULL,
              detail TEXT NOT NULL,
              prev_hash {blob} NOT NULL,
              hash {blob} NOT NULL)
            """,
            """
            CREATE TABLE account (
              id {pk},
              name TEXT NOT NULL UNIQUE,
              facility TEXT NOT NULL,
              key_reference TEXT,
              signing_key_enc {blob},
              created_at TEXT NOT NULL,
              last_seen_at TEXT,
              locked {int} NOT NULL DEFAULT 0)
            """,
        ],
        [
            // How often processing of a partition started at the same offset without moving past it:
            // a record that crashes the service leaves its count growing across restarts (poison pill).
            """
            CREATE TABLE processing_attempt (
              group_id TEXT NOT NULL,
              topic TEXT NOT NULL,
              kafka_partition {int} NOT NULL,
              first_offset {int} NOT NULL,
              attempts {int} NOT NULL,
              updated_at TEXT NOT NULL,
              PRIMARY KEY (group_id, topic, kafka_partition))
            """,
        ],
        [
            // Insurance (Hà Nội regulation art. 18). A card is its holder's BHXH number; its history is
            // insurance_card + the originals in source_record, and this table holds the history folded
            // in effective order (InsuranceCardState), rewritten in the transaction that adds a change.
            // Plain columns: status and days only, for the report; everything else is in state_enc.
            """
            CREATE TABLE insurance_card_state (
              id {pk},
              bhxh_index {blob} NOT NULL UNIQUE,
              status TEXT NOT NULL,
              valid_from TEXT,
              valid_to TEXT,
              effective_at TEXT NOT NULL,
              changes {int} NOT NULL,
              state_enc {blob} NOT NULL,
              updated_at TEXT NOT NULL)
            """,
            "CREATE INDEX insurance_card_bhxh ON insurance_card(bhxh_index)",
            // The supplement ledger: one row per (BHXH number, field, value) hssk decided to send, kept
            // for good. The newest row of a (BHXH number, field) is what insurance last heard from us:
            // a value is sent again only when ours differs from it. Rows are written 'pending' before
            // they are produced (so a crash resends the same supplement id), then 'sent', then
            // 'accepted' or 'rejected' from BHXH's acknowledgement.
            """
            CREATE TABLE insurance_supplement (
              id {pk},
              supplement_id TEXT NOT NULL UNIQUE,
              bhxh_index {blob} NOT NULL,
              field TEXT NOT NULL,
              bhxh_enc {blob} NOT NULL,
              value_enc {blob} NOT NULL,
              payload_enc {blob} NOT NULL,
              status TEXT NOT NULL,
              reason_code TEXT,
              reason_enc {blob},
              created_at TEXT NOT NULL,
              sent_at TEXT,
              answered_at TEXT)
            """,
            "CREATE INDEX insurance_supplement_card ON insurance_supplement(bhxh_index, field)",
            "CREATE INDEX insurance_supplement_pending ON insurance_supplement(id) WHERE status = 'pending'",
        ],
        [
            // The person index's Fellegi–Sunter m/u as estimated on this store's data (`hssk dedup
            // --estimate`), read by ingest and dedup at start. Probabilities only, no personal data:
            // plain columns. One row per model name; re-estimating replaces it (the audit log keeps when).
            """
            CREATE TABLE match_model (
              name TEXT PRIMARY KEY,
              model_json TEXT NOT NULL,
              estimated_at TEXT NOT NULL,
              pairs {int} NOT NULL,
              saved_by TEXT NOT NULL)
            """,
        ],
        [
            // The offsets each consumer group moved its position over, as contiguous runs: batches it
            // applied (with how many records the consumer delivered and how many left no row of their
            // own), gaps an operator accepted. `hssk verify` checks that runs meet, end at the stored
            // position and account for every stored or dead-lettered record.
            """
            CREATE TABLE consumer_range (
              id {pk},
              group_id TEXT NOT NULL,
              topic TEXT NOT NULL,
              kafka_partition {int} NOT NULL,
              from_offset {int} NOT NULL,
              next_offset {int} NOT NULL,
              kind TEXT NOT NULL,
              records {int} NOT NULL DEFAULT 0,
              absorbed {int} NOT NULL DEFAULT 0,
              detail TEXT,
              created_at TEXT NOT NULL,
              updated_at TEXT NOT NULL)
            """,
            "CREATE INDEX consumer_range_end ON consumer_range(group_id, topic, kafka_partition, next_offset)",
            // Positions stored before ranges were recorded: one unchecked run each.
            """
            INSERT INTO consumer_range (group_id, topic, kafka_partition, from_offset, next_offset, kind, created_at, updated_at)
            SELECT group_id, topic, kafka_partition, 0, next_offset, 'before-schema-5', updated_at, updated_at FROM consumer_offset
            """,
            // Dead letters are decided in the batch's transaction and produced after it commits by the
            // relay (exactly once: a `sending` row carries where its topic ended before it was sent, and
            // is looked for there before it is sent again); the letter itself is kept encrypted only
            // until it is delivered. Times in ms by the database's clock (leases, quiet periods).
            """
            CREATE TABLE dead_letter (
              id {pk},
              group_id TEXT NOT NULL,
              source_topic TEXT NOT NULL,
              source_partition {int} NOT NULL,
              source_offset {int} NOT NULL,
              dlq_topic TEXT NOT NULL,
              code TEXT NOT NULL,
              letter_enc {blob},
              state TEXT NOT NULL,
              attempts {int} NOT NULL DEFAULT 0,
              dlq_partition {int},
              dlq_offset {int},
              marks TEXT,
              marked_at_ms {int},
              error TEXT,
              created_at TEXT NOT NULL,
              created_ms {int} NOT NULL,
              sent_at TEXT)
            """,
            "CREATE UNIQUE INDEX dead_letter_source ON dead_letter(group_id, source_topic, source_partition, source_offset)",
            "CREATE INDEX dead_letter_undelivered ON dead_letter(id) WHERE state IN ('pending', 'sending')",
            // One relay per consumer group at a time produces its dead letters: the lease, by the
            // database's clock. (Where the topics ended before a letter was sent is on the letter.)
            """
            CREATE TABLE relay_lease (
              name TEXT PRIMARY KEY,
              holder TEXT NOT NULL,
              expires_ms {int} NOT NULL)
            """,
        ],
        // Step 6, source record versions: a correction back to earlier content (A, B, A) is a new version
        // with the same content index as the first, so (key, content) is no longer unique. What is
        // unique is (key, version): still one random index per record, and still no two writers can
        // both store version n of a key. IF (NOT) EXISTS: steps may be re-run on a hand-downgraded store.
        [
            "DROP INDEX IF EXISTS source_record_content",
            "CREATE UNIQUE INDEX IF NOT EXISTS source_record_key_version ON source_record(source_key_index, version)",
        ],
        // Step 7, outbox quarantine: a row its reader cannot process (a payload that fails authentication,
        // a person whose data cannot be read) is taken out of the pending set (done_at) and recorded here
        // with a code, so that one bad row never stops the feed or the insurance sync and is not retried
        // forever. Codes, ids and times only. IF NOT EXISTS: steps may be re-run on a hand-downgraded store.
        [
            """
            CREATE TABLE IF NOT EXISTS outbox_quarantine (
              outbox_id {int} PRIMARY KEY REFERENCES outbox(id),
              code TEXT NOT NULL,
              quarantined_at TEXT NOT NULL,
              actor TEXT NOT NULL)
            """,
        ],
        // Step 8, supplement answer order: BHXH's own time of the answer it recorded last (UTC, as the
        // store writes times), so that an answer only moves its supplement forward and a replayed older
        // answer changes nothing. NULL for answers recorded before this step (they stay as they are).
        [
            "ALTER TABLE insurance_supplement ADD COLUMN answer_received_at TEXT",
        ],
        // Step 9, ciphertexts bound to their rows (issue #16, DESIGN §9): every column-bound (format 1)
        // ciphertext is sealed again with its row in the associated data (format 2), so two rows'
        // ciphertexts can no longer be swapped unnoticed. No DDL: the pass reads each encrypted column
        // in id order, in batches of their own transactions, and skips what is already row-bound, so it
        // can be interrupted and run again (and re-running it on a bound store changes nothing).
        MigrationStep(pass: .bindCiphertextsToRows),
        // Step 10, a position moved back (`hssk offsets accept-gap --reset-to`: the topic was recreated)
        // starts a new log at offsets the old one used. The reset run keeps the largest source record id
        // at that moment (rows after it are the new log's), and the group's dead letters of the old log
        // name the reset, so the one-letter-per-record index only holds within one log.
        [
            "ALTER TABLE consumer_range ADD COLUMN IF NOT EXISTS source_record_bound {int}",
            "ALTER TABLE dead_letter ADD COLUMN IF NOT EXISTS reset_range_id {int}",
            // Resets accepted before this step: bounds and letters found by time (same clock, same format).
            """
            UPDATE consumer_range SET source_record_bound =
              (SELECT COALESCE(MAX(s.id), 0) FROM source_record s WHERE s.topic = consumer_range.topic
               AND s.kafka_partition = consumer_range.kafka_partition AND s.received_at <= consumer_range.created_at)
            WHERE kind = 'reset' AND source_record_bound IS NULL
            """,
            """
            UPDATE dead_letter SET reset_range_id =
              (SELECT MIN(r.id) FROM consumer_range r WHERE r.kind = 'reset' AND r.group_id = dead_letter.group_id
               AND r.topic = dead_letter.source_topic AND r.kafka_partition = dead_letter.source_partition AND r.created_at >= dead_letter.created_at)
            WHERE reset_range_id IS NULL AND EXISTS (SELECT 1 FROM consumer_range r WHERE r.kind = 'reset' AND r.group_id = dead_letter.group_id
              AND r.topic = dead_letter.source_topic AND r.kafka_partition = dead_letter.source_partition)
            """,
            "DROP INDEX IF EXISTS dead_letter_source",
            """
            CREATE UNIQUE INDEX IF NOT EXISTS dead_letter_source_current ON dead_letter(group_id, source_topic, source_partition, source_offset)
            WHERE reset_range_id IS NULL
            """,
        ],
    ]

    /// Every encrypted column. Rows are named by their id, except where the table's rows are always
    /// found by a unique name: accounts by name, supplements by supplement id, card states by the
    /// card's blind index (an upsert keeps the row but may not know its id).
    static let encryptedColumns: [EncryptedColumn] = [
        EncryptedColumn(table: "person", key: "id", column: "demographics_enc", row: "id"),
        EncryptedColumn(table: "identifier", key: "id", column: "value_enc", row: "id"),
        EncryptedColumn(table: "source_record", key: "id", column: "source_key_enc", row: "id"),
        EncryptedColumn(table: "source_record", key: "id", column: "original_enc", row: "id"),
        EncryptedColumn(table: "review_task", key: "id", column: "evidence_enc", row: "id"),
        EncryptedColumn(table: "outbox", key: "id", column: "payload_enc", row: "id"),
        EncryptedColumn(table: "account", key: "id", column: "signing_key_enc", row: "name"),
        EncryptedColumn(table: "insurance_card_state", key: "id", column: "state_enc", row: "bhxh_index"),
        EncryptedColumn(table: "insurance_supplement", key: "id", column: "bhxh_enc", row: "supplement_id"),
        EncryptedColumn(table: "insurance_supplement", key: "id", column: "value_enc", row: "supplement_id"),
        EncryptedColumn(table: "insurance_supplement", key: "id", column: "payload_enc", row: "supplement_id"),
        EncryptedColumn(table: "insurance_supplement", key: "id", column: "reason_enc", row: "supplement_id"),
        EncryptedColumn(table: "dead_letter", key: "id", column: "letter_enc", row: "id"),
    ]

    /// The `RowKey` of a row from the value of its column `EncryptedColumn.row`.
    static func rowKey(_ value: SQLValue) throws(StoreError) -> RowKey {
        switch value {
        case .int(let id): return .id(id)
        case .text(let name): return .name(name)
        case .blob(let bytes): return .name(hex(bytes))
        case .null: throw StoreError.schemaInvalid("a row of an encrypted column has no name")
        }
    }

    /// Tables in dependency order (for digests and copies), with their ordering key.
    static let tables: [(name: String, key: String)] = [
        ("schema_meta", "name"), ("person", "id"), ("identifier", "id"), ("blocking_key", "id"),
        ("source_record", "id"), ("visit", "id"), ("vaccination", "id"), ("insurance_card", "id"),
        ("registry_event", "id"), ("relation", "id"), ("merge_log", "id"), ("review_task", "id"),
        ("outbox", "id"), ("consumer_offset", "group_id, topic, kafka_partition"), ("audit_log", "seq"),
        ("account", "id"), ("processing_attempt", "group_id, topic, kafka_partition"), ("insurance_card_state", "id"),
        ("insurance_supplement", "id"), ("match_model", "name"), ("consumer_range", "id"), ("dead_letter", "id"),
        ("relay_lease", "name"), ("outbox_quarantine", "outbox_id"),
    ]

    /// Creates the schema's bookkeeping table and returns the version recorded (0 for a new database);
    /// refuses a newer schema.
    static func prepare(_ db: SQLConnection) throws -> Int {
        try db.executeScript("CREATE TABLE IF NOT EXISTS schema_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
        let found = try version(db)
        guard found <= currentVersion else { throw StoreError.schemaTooNew(found: found, supported: currentVersion) }
        return found
    }

    /// Brings the database to `currentVersion`; refuses a newer one. Returns the version found.
    ///
    /// Consecutive SQL steps run in one transaction. A step with a pass runs `pass` (batches of its own
    /// transactions), then its statements and the new version in one transaction; the recorded version
    /// moves past it only when the pass is complete. Each transaction reads the version again, so two
    /// processes opening an old store at once never run a SQL step twice (a pass both run skips what
    /// the other already rewrote).
    static func run(on db: SQLConnection, pass: (MigrationPass) throws -> Void) throws -> Int {
        let found = try prepare(db)
        while true {
            let next: (version: Int, pass: MigrationPass?) = try db.transaction {
                var version = try self.version(db)
                guard version <= currentVersion else { throw StoreError.schemaTooNew(found: version, supported: currentVersion) }
                let start = version
                while version < currentVersion, steps[version].pass == nil {
                    for statement in steps[version].statements { try execute(statement, on: db) }
                    version += 1
                }
                if version != start { try record(version, db) }
                return (version, version < currentVersion ? steps[version].pass : nil)
            }
            guard let step = next.pass else { return found }
            try pass(step)
            try db.transaction {
                guard try self.version(db) == next.version else { return }
                for statement in steps[next.version].statements { try execute(statement, on: db) }
                try record(next.version + 1, db)
            }
        }
    }

    /// Runs one statement of a step in the dialect. SQLite has no `ADD COLUMN IF NOT EXISTS`: there
    /// the column is looked up first, so a step that adds one can run again on a hand-downgraded store.
    private static func execute(_ statement: String, on db: SQLConnection) throws {
        let sql = db.dialect.ddl(statement)
        let words = sql.split(separator: " ", maxSplits: 8).map(String.init)
        guard db.dialect == .sqlite, words.count > 8, words[0...1] == ["ALTER", "TABLE"], words[3...7] == ["ADD", "COLUMN", "IF", "NOT", "EXISTS"] else {
            return try db.executeScript(sql)
        }
        let column = words[8].split(separator: " ").first.map(String.init) ?? ""
        let exists = try db.queryOne("SELECT COUNT(*) FROM pragma_table_info(?) WHERE name = ?", [.text(words[2]), .text(column)])?.int(0) ?? 0
        if exists == 0 { try db.executeScript(sql.replacingOccurrences(of: " IF NOT EXISTS", with: "")) }
    }

    /// Records `version` as the schema's version; call inside a transaction.
    private static func record(_ version: Int, _ db: SQLConnection) throws {
        try db.execute("DELETE FROM schema_meta WHERE name = 'schema_version'", [])
        try db.execute("INSERT INTO schema_meta (name, value) VALUES ('schema_version', ?)", [.text(String(version))])
    }

    /// True when the database already holds an hssk schema.
    static func hasSchema(_ db: SQLConnection) throws(StoreError) -> Bool {
        let sql = db.dialect == .sqlite
            ? "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_meta'"
            : "SELECT COUNT(*) FROM pg_catalog.pg_tables WHERE tablename = 'schema_meta' AND schemaname = current_schema()"
        return try db.queryOne(sql, [])?.int(0) ?? 0 > 0
    }

    /// The schema version recorded in the database (0 for an empty one).
    static func version(_ db: SQLConnection) throws(StoreError) -> Int {
        guard let row = try db.queryOne("SELECT value FROM schema_meta WHERE name = 'schema_version'", []) else { return 0 }
        guard let text = row[0].text, let version = Int(text) else { throw StoreError.schemaInvalid("unreadable schema_version") }
        return version
    }
}
