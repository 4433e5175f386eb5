import CNixActionsPlugin
import Foundation
import NixActionsPluginKit
import NixActionsPluginMessages
import NixActionsProcessKit
import Synchronization

/// The one symbol this library exports.
@_cdecl("nixactions_plugin_entry")
public func nixactionsPluginEntry(
    _ host: UnsafePointer<nxa_host_info>?,
    _ out: UnsafeMutablePointer<UnsafePointer<nxa_plugin>?>?,
    _ error: UnsafeMutablePointer<nxa_error>?
) -> nxa_status {
    PluginExport.entry(
        PluginDeclaration(
            id: "sops", name: "sops secrets", version: "0.1.0",
            description: "Secrets from a sops-encrypted YAML, JSON, dotenv or binary file (runs the sops binary)",
            secrets: SopsSecrets.self),
        host: host, out: out, error: error)
}

/// `- provider: sops` with `file: PATH`, optional `format` (yaml, json, dotenv, binary; else from
/// the extension, as sops does), `keys: [...]`, `extract: '["a"]["b"]'` (the part of the document
/// at that path: one value, or a mapping or list flattened under the path's name),
/// `age-key-file: PATH` (else `SOPS_AGE_KEY_FILE` or sops's own defaults) and `sops: PATH`.
///
/// `extract` is applied here, to sops's JSON output, not by `sops --extract`: sops prints a
/// mapping it extracts as one YAML text, which would reach the step as one secret whose leaf
/// values are not masked one by one (audit 48: `sed -n 's/^password: //p'` printed one).
///
/// sops gets no secret on its command line: the file's path and options only; the age key
/// travels as a file path in its environment. Its decrypted output comes back through a pipe,
/// never a file.
final class SopsSecrets: SecretsPlugin {
    /// An entry's options `resolve` accepts, published for `validate` (options.h).
    static let options: Set<String> = ["file", "ref", "format", "keys", "extract", "age-key-file", "sops"]
    static var optionNames: Set<String>? { options }

    let project: String
    /// The run's tracking id, for the processes this provider starts (nil from an older host).
    let trackingID: String?
    /// The most sops may print (a secrets file is small; this bounds the memory).
    static let outputLimit = 16 << 20

    init(configuration: SecretsConfiguration, host: HostServices) throws {
        project = configuration.projectDirectory
        trackingID = configuration.trackingID
    }

    func resolve(_ entry: SecretsEntry, into values: SecretValues, context: OperationContext) async throws {
        let options = entry.options
        try SecretDocuments.checkKnown(options, Self.options, provider: "sops")
        guard let file = try SecretDocuments.string(options, "file") ?? SecretDocuments.string(options, "ref") else {
            throw OperationFailure(message: "the sops provider needs 'file'", hint: "e.g. - { provider: sops, file: secrets.enc.yaml }")
        }
        let path = SecretDocuments.path(file, project: project)
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw OperationFailure(message: "\(file) does not exist or cannot be read", hint: "the path is relative to the project folder")
        }
        let format = try SecretDocuments.string(options, "format") ?? Self.format(of: path)
        guard ["yaml", "json", "dotenv", "binary"].contains(format) else {
            throw OperationFailure(message: "unknown format '\(format)'", hint: "yaml, json, dotenv or binary")
        }
        // Checked before anything is decrypted.
        let requested = try SecretDocuments.requestedKeys(options)
        let extract = try SecretDocuments.string(options, "extract").map { text in
            guard let path = Self.extractPath(text) else {
                throw OperationFailure(message: "'extract' is not a key path: \(text)",
                                       hint: #"write it as sops does: '["db"]["password"]', or '["hosts"][0]' for a list item"#)
            }
            return path
        }
        var environment = ProcessInfo.processInfo.environment
        // Marked as the run's: a host killed by SIGKILL leaves sops to the run's supervisor,
        // which ends every process carrying the mark (audit 48: it stayed under init).
        if let trackingID { environment[JobContainment.trackingVariable] = trackingID + "/secrets" }
        if let keyFile = try SecretDocuments.string(options, "age-key-file") {
            let keyPath = SecretDocuments.path(keyFile, project: project)
            guard FileManager.default.isReadableFile(atPath: keyPath) else {
                throw OperationFailure(message: "the age key file \(keyFile) does not exist or cannot be read")
            }
            environment["SOPS_AGE_KEY_FILE"] = keyPath
        }
        let sops = try SecretDocuments.string(options, "sops") ?? FastFiles.resolve("sops", searchPath: environment["PATH"] ?? "/usr/bin:/bin")
        let whole = format == "binary" && extract == nil
        let arguments = [sops, "--disable-version-check", "--decrypt", "--input-type", format,
                         "--output-type", whole ? "binary" : "json", path]

        let (status, stdout, stderr) = try await Self.run(arguments, environment: environment, directory: project, context: context)
        guard status == 0 else {
            // sops's own words, first line only (it names the problem, not the data), without a
            // line of the file it quotes.
            let reason = Self.shownReason(String(decoding: stderr.prefix(400), as: UTF8.self).split(separator: "\n").first.map(String.init)
                ?? "exit status \(status)")
            throw OperationFailure(
                message: "sops could not decrypt \(file): \(reason)",
                hint: reason.contains("master key") || reason.contains("data key")
                    || reason.range(of: #"\bage\b"#, options: .regularExpression) != nil
                    ? "set SOPS_AGE_KEY_FILE or the entry's age-key-file to the age key the file was encrypted for"
                    : "run 'sops --decrypt \(file)' to see the whole error")
        }
        var output = stdout
        defer { for index in output.indices { output[index] = 0 } }
        if whole {
            let base = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
            try values.deliver(SecretNames.flatten([base]), &output)
            return
        }
        let document: JSONValue
        do {
            // Numbers as sops printed them: every digit of a 20-digit id (a double keeps 17).
            document = try JSONValue.parse(output, numbersAsText: true)
        } catch {
            throw OperationFailure(message: "sops printed something that is not JSON for \(file)")
        }
        let flattened: SecretDocuments.Flattened
        if let extract {
            // The part at the path, named after it (["db"]["password"] → DB_PASSWORD; a mapping
            // under ["db"] → DB_PASSWORD, DB_USER, each its own masked value); `as:` renames.
            var part = document
            for (depth, step) in extract.enumerated() {
                guard let next = Self.member(part, step) else {
                    let at = extract[..<depth].map(\.shown).joined()
                    throw OperationFailure(
                        message: "\(file) has nothing at \(extract[...depth].map(\.shown).joined())",
                        hint: Self.membersHint(part, at: at.isEmpty ? "its top level" : at))
                }
                part = next
            }
            switch part {
            case .object([:]), .array([]):
                let kind = part == .array([]) ? "list" : "mapping"
                throw OperationFailure(message: "\(file) has an empty \(kind) at \(extract.map(\.shown).joined()): it gives no secret",
                                       hint: "extract a value inside it, or leave the entry out")
            default:
                flattened = try SecretDocuments.flatten(part, what: file, under: extract.map(\.name))
            }
        } else {
            flattened = try SecretDocuments.flatten(document, what: file)
        }
        for (name, value) in try SecretDocuments.select(flattened, keys: requested, what: file)
            .sorted(by: { $0.key < $1.key }) {
            var bytes = Array(value.utf8)
            try values.deliver(name, &bytes)
        }
    }

    /// sops's first error line as it may be shown: for a dotenv file that is not encrypted, sops
    /// quotes the line it could not read, which may be part of a secret (audit 48: a private
    /// key's line); the other readers of dotenv files here never show it either.
    static func shownReason(_ line: String) -> String {
        if let range = line.range(of: "invalid dotenv input line") {
            return String(line[..<range.upperBound]) + " (the line is not shown: it may hold part of a secret)"
        }
        return line
    }

    /// sops's own guess from the extension.
    static func format(of path: String) -> String {
        switch (path as NSString).pathExtension.lowercased() {
        case "yaml", "yml": return "yaml"
        case "json": return "json"
        case "env": return "dotenv"
        default: return (path as NSString).lastPathComponent.hasPrefix(".env") ? "dotenv" : "binary"
        }
    }

    /// One step of an `extract` path: a quoted key, or a bare list index.
    enum PathStep: Equatable {
        case key(String)
        case index(Int)

        var name: String {
            switch self {
            case .key(let key): return key
            case .index(let index): return String(index)
            }
        }

        var shown: String {
            switch self {
            case .key(let key): return "[\"\(key)\"]"
            case .index(let index): return "[\(index)]"
            }
        }
    }

    /// sops's path syntax: `["a"]["b"]`, `['a']`, `[0]` (spaces around the brackets allowed);
    /// nil for anything else, or for an empty path.
    static func extractPath(_ text: String) -> [PathStep]? {
        var steps: [PathStep] = []
        var rest = Substring(text).drop(while: { $0 == " " })
        while !rest.isEmpty {
            guard rest.first == "[" else { return nil }
            rest = rest.dropFirst().drop(while: { $0 == " " })
            if let quote = rest.first, quote == "\"" || quote == "'" {
                rest = rest.dropFirst()
                guard let end = rest.firstIndex(of: quote) else { return nil }
                steps.append(.key(String(rest[..<end])))
                rest = rest[rest.index(after: end)...]
            } else {
                let digits = rest.prefix(while: { $0.isASCII && $0.isNumber })
                guard !digits.isEmpty, let index = Int(digits) else { return nil }
                steps.append(.index(index))
                rest = rest.dropFirst(digits.count)
            }
            rest = rest.drop(while: { $0 == " " })
            guard rest.first == "]" else { return nil }
            rest = rest.dropFirst().drop(while: { $0 == " " })
        }
        return steps.isEmpty ? nil : steps
    }

    /// The member a step selects: a key of a mapping, an index of a list.
    static func member(_ value: JSONValue, _ step: PathStep) -> JSONValue? {
        switch (value, step) {
        case (.object(let members), .key(let key)): return members[key]
        case (.array(let items), .index(let index)): return items.indices.contains(index) ? items[index] : nil
        default: return nil
        }
    }

    /// What a step could have named (keys, never values).
    static func membersHint(_ value: JSONValue, at place: String) -> String {
        switch value {
        case .object(let members):
            let keys = members.keys.sorted()
            return keys.isEmpty ? "\(place) is an empty mapping"
                : "\(place) has the keys \(keys.prefix(12).joined(separator: ", "))\(keys.count > 12 ? ", …" : "")"
        case .array(let items): return "\(place) is a list of \(items.count) (index it as [0])"
        default: return "\(place) is a single value"
        }
    }

    /// Run sops, collecting its output (bounded) in memory.
    static func run(
        _ arguments: [String], environment: [String: String], directory: String, context: OperationContext
    ) async throws -> (Int32, [UInt8], [UInt8]) {
        let collected = Mutex<(out: [UInt8], err: [UInt8], overflow: Bool)>(([], [], false))
        let termination: Termination
        do {
            termination = try await runProcess(
                arguments: arguments, environment: environment, directory: directory, grace: .seconds(2),
                onOutput: { stream, bytes in
                    collected.withLock { state in
                        if stream == 2 {
                            if state.err.count < 64 << 10 { state.err.append(contentsOf: bytes) }
                        } else if state.out.count + bytes.count <= outputLimit {
                            state.out.append(contentsOf: bytes)
                        } else {
                            state.overflow = true
                        }
                    }
                })
        } catch {
            throw OperationFailure(message: "cannot start sops (\(arguments[0])): \(String(cString: strerror(error.errno)))",
                                   hint: "install sops (https://github.com/getsops/sops), or give its path with 'sops:'")
        }
        try Task.checkCancellation()
        let (out, err, overflow) = collected.withLock { ($0.out, $0.err, $0.overflow) }
        if overflow { throw OperationFailure(message: "sops printed more than \(outputLimit >> 20) MiB; a secrets file should be small") }
        return (termination.exitStatus, out, err)
    }
}
