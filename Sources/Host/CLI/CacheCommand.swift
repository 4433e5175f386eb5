import ArgumentParser
import Foundation
import NixActionsEngine
import NixActionsPluginHost
import NixActionsPluginMessages
import NixActionsProcessKit

/// `nixactions cache list|prune|clear`: look after the entries of a cache backend.
struct CacheCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache",
        abstract: "List, prune or clear cache entries (docs/caching.md).",
        subcommands: [ListEntries.self, Prune.self, Clear.self]
    )

    struct BackendOptions: ParsableArguments {
        @Option(name: .customLong("backend"), help: "The backend (default: the configuration's, else local).")
        var backend: String?

        @Option(name: .customLong("config"), help: "The project configuration (default: .nixactions/config.yml).", completion: .file(extensions: ["yml", "yaml"]))
        var config: String?

        static let folderPrefix = "nixactions-cache-"

        /// Run `body` with the backend, in a private temporary folder removed afterwards.
        func with<T>(_ body: (any CacheBackend) async throws -> T) async throws -> T {
            let settings = try RunnerOptions.loadConfig(config).cache
            let name = backend ?? settings.defaultBackend
            // A private folder marked in use while this process lives: removed at the end, at
            // once on Ctrl-C (which otherwise ends a command without cleanup at once), and by the
            // next run's sweep if this process was killed (audit 60 hangs M4: left for good).
            let made: PrivateFolder
            do {
                made = try PrivateFolder(base: RunSupervision.temporaryBases[0], prefix: Self.folderPrefix)
            } catch {
                throw CleanExit.message("error: cannot make a temporary folder in \(RunSupervision.temporaryBases[0]): \(String(cString: strerror(error.errno)))")
            }
            let folder = made.path
            SignalHub.handler.withLock {
                $0 = { _ in
                    made.remove()
                    StandardStreams.writeError("\nnixactions: cancelled\n")
                    _exit(ExitStatus.cancelled)
                }
            }
            defer {
                SignalHub.handler.withLock { $0 = nil }
                made.remove()
            }
            let registry = PluginRegistry.discoverWarning()
            let instance: any CacheBackend
            do {
                instance = try registry.makeCacheBackend(
                    name: name, configuration: CacheConfiguration(runID: "cache-command", runDirectory: folder, options: settings.options(for: name)))
            } catch let error as EngineError {
                standardError("error: \(error.description)\n")
                throw ExitCode(ExitStatus.usage)
            }
            do {
                return try await body(instance)
            } catch let failure as OperationFailure {
                standardError("error: \(failure.error.message)\n" + (failure.error.hint.map { "  hint: \($0)\n" } ?? ""))
                throw ExitCode(ExitStatus.jobFailed)
            } catch let error as EngineError {
                standardError("error: \(error.description)\n")
                throw ExitCode(ExitStatus.jobFailed)
            }
        }
    }

    struct ListEntries: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List entries, newest first.")

        @OptionGroup var backend: BackendOptions

        @Argument(help: "Only keys that start with this.")
        var prefix: String?

        @Flag(name: .customLong("json"), help: "One JSON document: { entries: [ { key, version, sizeBytes, createdAt, lastUsedAt } ], totalBytes }.")
        var json = false

        func run() async throws {
            let listing = try await backend.with { try await $0.list(CacheList(keyPrefix: prefix)) }
            if json {
                struct Document: Encodable {
                    var entries: [CacheEntryInfo]
                    var totalBytes: Int
                }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                let data = try encoder.encode(Document(entries: listing.entries, totalBytes: listing.entries.reduce(0) { $0 + $1.sizeBytes }))
                print(String(decoding: data, as: UTF8.self))
                return
            }
            guard !listing.entries.isEmpty else {
                print("no entries")
                return
            }
            // Keys come from the store, which others may write: control characters and line breaks escaped.
            let rows = listing.entries.map {
                [DisplayText.escaped($0.key), CacheSizes.format($0.sizeBytes), DisplayText.escaped($0.createdAt), DisplayText.escaped($0.lastUsedAt ?? "-")]
            }
            let header = ["KEY", "SIZE", "CREATED", "LAST USED"]
            var widths = header.map(\.count)
            for row in rows { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) } }
            func line(_ cells: [String]) -> String {
                cells.enumerated().map { index, cell in index == cells.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0) }
                    .joined(separator: "  ")
            }
            print(line(header))
            for row in rows { print(line(row)) }
            let total = listing.entries.reduce(0) { $0 + $1.sizeBytes }
            print("\(listing.entries.count) entr\(listing.entries.count == 1 ? "y" : "ies"), \(CacheSizes.format(total))")
        }
    }

    struct Prune: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "prune",
            abstract: "Remove entries older than a duration, then the least recently used until the rest fits a size.")

        @OptionGroup var backend: BackendOptions

        @Option(name: .customLong("max-size"), parsing: .unconditional, help: "Keep at most this much (e.g. 5G, 500M).")
        var maxSize: String?

        @Option(name: .customLong("older-than"), parsing: .unconditional, help: "Remove entries created longer ago than this (e.g. 7d, 12h).")
        var olderThan: String?

        func validate() throws {
            if maxSize == nil && olderThan == nil { throw ValidationError("say what to prune: --max-size SIZE and/or --older-than DURATION") }
            if let maxSize, CacheSizes.parse(maxSize) == nil { throw ValidationError("--max-size '\(maxSize)' is not a size (e.g. 5G, 500M, 1048576)") }
            if let olderThan, CacheDurations.parse(olderThan) == nil {
                throw ValidationError("--older-than '\(olderThan)' is not a duration (e.g. 7d, 12h, 30m)")
            }
        }

        func run() async throws {
            let request = CachePrune(maxSizeBytes: maxSize.flatMap(CacheSizes.parse), olderThanSeconds: olderThan.flatMap(CacheDurations.parse))
            let pruned = try await backend.with { try await $0.prune(request) }
            print("removed \(pruned.removedEntries) entr\(pruned.removedEntries == 1 ? "y" : "ies"), freed \(CacheSizes.format(pruned.freedBytes))")
        }
    }

    struct Clear: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "clear", abstract: "Remove every entry, or those whose key starts with a prefix.")

        @OptionGroup var backend: BackendOptions

        @Argument(help: "Only keys that start with this.")
        var prefix: String?

        func run() async throws {
            // `cache clear "$PREFIX"` with PREFIX unset must not clear everything.
            if prefix == "" {
                standardError("error: the prefix is empty; to remove every entry, give no prefix at all (nixactions cache clear)\n")
                throw ExitCode(ExitStatus.usage)
            }
            let pruned = try await backend.with { try await $0.prune(CachePrune(keyPrefix: prefix, all: true)) }
            print("removed \(pruned.removedEntries) entr\(pruned.removedEntries == 1 ? "y" : "ies"), freed \(CacheSizes.format(pruned.freedBytes))")
        }
    }
}
