import Foundation

/// Every top-level command, in the order `hssk --help` lists them.
let commands: [Command] = [brokerCommand, topicsCommand, publishCommand, ingestCommand, linkageEvalCommand, backupCommand, restoreCommand,
                           verifyCommand, keysCommand, offsetsCommand, accountsCommand, dlqCommand, feedCommand, insuranceCommand, reviewCommand, personsCommand, dedupCommand,
                           benchCommand, demoCommand, chaosCommand, configCommand]

/// `hssk` itself: the tree the dispatcher, `--config` sections and `hssk config` walk.
let root = Command(
    name: "hssk", summary: "hssk: the Kafka integration broker of the electronic health record (Hồ sơ sức khỏe điện tử).",
    usage: "<command> [options]", details: "Run 'hssk <command> --help' for a command's options. Every command takes --config FILE (docs/configuration.md).",
    options: [], subcommands: commands)
