import Foundation
import Kafka

/// Fault injection for the crash-recovery and poison-pill tests, compiled into debug builds only:
/// `HSSK_FAILPOINT_CRASH_KEY=<kafka key>` makes the process abort when it reaches that record, the
/// way a record that trips a bug would. Release builds contain none of this.
enum FailPoints {
    #if DEBUG
    private static let crashKey: [UInt8]? = ProcessInfo.processInfo.environment["HSSK_FAILPOINT_CRASH_KEY"].map { Array($0.utf8) }
    #endif

    static func check(_ record: ConsumerRecord) {
        #if DEBUG
        if let crashKey, record.key == crashKey { abort() }
        #endif
    }
}
