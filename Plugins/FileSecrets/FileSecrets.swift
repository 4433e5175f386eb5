import CNixActionsPlugin
import Foundation
import NixActionsPluginKit
import NixActionsPluginMessages
import Yams

/// The one symbol this library exports.
@_cdecl("nixactions_plugin_entry")
public func nixactionsPluginEntry(
    _ host: UnsafePointer<nxa_host_info>?,
    _ out: UnsafeMutablePointer<UnsafePointer<nxa_plugin>?>?,
    _ error: UnsafeMutablePointer<nxa_error>?
) -> nxa_status {
    PluginExport.entry(
        PluginDeclaration(
            id: "file", name: "File secrets", version: "0.1.0",
            description: "Secrets from a dotenv, JSON or YAML file (nested keys flattened: db.password → DB_PASSWORD)",
            secrets: FileSecrets.self),
        host: host, out: out, error: error)
}

/// `- provider: file` with `file: PATH` (relative to the project), optional `format: dotenv |
/// json | yaml` (else from the extension: .json, .yaml/.yml, anything else dotenv) and
/// `keys: [...]` (all keys when absent).
final class FileSecrets: SecretsPlugin {
    /// An entry's options `resolve` accepts, published for `validate` (options.h).
    static let options: Set<String> = ["file", "ref", "format", "keys"]
    static var optionNames: Set<String>? { options }

    let project: String

    init(configuration: SecretsConfiguration, host: HostServices) throws {
        project = configuration.projectDirectory
    }

    func resolve(_ entry: SecretsEntry, into values: SecretValues, context: OperationContext) async throws {
        try SecretDocuments.checkKnown(entry.options, Self.options, provider: "file")
        guard let file = try SecretDocuments.string(entry.options, "file") ?? SecretDocuments.string(entry.options, "ref") else {
            throw OperationFailure(message: "the file provider needs 'file'", hint: "e.g. - { provider: file, file: .env.secrets }")
        }
        let path = SecretDocuments.path(file, project: project)
        let format = try SecretDocuments.string(entry.options, "format") ?? Self.format(of: path)
        // A FIFO, a device or a folder is not a secrets file (a FIFO would also wait for a writer):
        // checked on the descriptor that is read, opened without waiting (review 60 L7).
        let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        var info = stat()
        if descriptor >= 0, fstat(descriptor, &info) == 0, info.st_mode & S_IFMT != S_IFREG {
            close(descriptor)
            let kind = info.st_mode & S_IFMT == S_IFDIR ? "a folder" : info.st_mode & S_IFMT == S_IFIFO ? "a named pipe (FIFO)" : "not a regular file"
            throw OperationFailure(message: "\(file) is \(kind), not a file of secrets", hint: "point 'file' at a regular file")
        }
        let read: Data? = descriptor < 0 ? nil : try? (FileHandle(fileDescriptor: descriptor, closeOnDealloc: true).readToEnd() ?? Data())
        guard let data = read else {
            let exists = FileManager.default.fileExists(atPath: path)
            throw OperationFailure(message: exists ? "cannot read \(file)" : "\(file) does not exist",
                                   hint: exists ? "check its permissions" : "create it, or fix the path (relative to the project folder)")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw OperationFailure(message: "\(file) is not UTF-8 text") }
        let flattened = try SecretDocuments.flatten(try Self.document(text, format: format, file: file), what: file)
        for (name, value) in try SecretDocuments.select(flattened, keys: try SecretDocuments.requestedKeys(entry.options), what: file)
            .sorted(by: { $0.key < $1.key }) {
            var bytes = Array(value.utf8)
            try values.deliver(name, &bytes)
        }
    }

    static func format(of path: String) -> String {
        switch (path as NSString).pathExtension.lowercased() {
        case "json": return "json"
        case "yaml", "yml": return "yaml"
        default: return "dotenv"
        }
    }

    /// The file as a document. Parse errors name the line, never the text around it.
    static func document(_ text: String, format: String, file: String) throws -> JSONValue {
        switch format {
        case "dotenv", "env":
            switch Dotenv.parse(text) {
            case .success(let entries):
                var members: [String: JSONValue] = [:]
                for entry in entries { members[entry.name] = .string(entry.value) }
                return .object(members)
            case .failure(let error):
                throw OperationFailure(message: "\(file):\(error.line): \(error.message)")
            }
        case "json":
            do {
                return try JSONValue.parse(Array(text.utf8), numbersAsText: true)  // "1.50" stays "1.50"
            } catch {
                // The place only: the parser's words may quote the file.
                let place = "\(error)".range(of: #"at byte \d+"#, options: .regularExpression).map { " (\("\(error)"[$0]))" } ?? ""
                throw OperationFailure(message: "\(file) is not valid JSON\(place)")
            }
        case "yaml":
            do {
                guard let node = try Yams.compose(yaml: text) else { return .object([:]) }
                var budget = maximumNodes
                return try json(node, budget: &budget)
            } catch let error as OperationFailure {
                throw error
            } catch let error as YamlError {
                throw OperationFailure(message: "\(file) is not valid YAML (\(yamlPlace(error)))")
            } catch {
                throw OperationFailure(message: "\(file) is not valid YAML")
            }
        default:
            throw OperationFailure(message: "unknown format '\(format)'", hint: "dotenv, json or yaml")
        }
    }

    static func yamlPlace(_ error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return "line \(mark.line), column \(mark.column): \(problem)"
        case .duplicatedKeysInMapping(let duplicates, let context):
            // Key names only (a value is never quoted); the place is the mapping's.
            let keys = duplicates.sorted().prefix(5).map { "'\($0.prefix(60))'" }.joined(separator: ", ")
            return "line \(context.mark.line), column \(context.mark.column): a mapping has the key \(keys) more than once"
        default: return "a syntax error"
        }
    }

    /// Aliases are followed, as YAML says; this bounds what they can expand to.
    static let maximumNodes = 100_000

    static func json(_ node: Node, budget: inout Int) throws -> JSONValue {
        budget -= 1
        guard budget >= 0 else {
            throw OperationFailure(message: "the YAML file expands to more than \(maximumNodes) values (aliases that nest?)",
                                   hint: "a secrets file is small; write the values out instead of using aliases")
        }
        switch node {
        case .scalar(let scalar):
            if scalar.style == .plain {
                switch scalar.string {
                case "true", "True", "TRUE": return .bool(true)
                case "false", "False", "FALSE": return .bool(false)
                case "null", "~", "": return .null
                default: break
                }
            }
            return .string(scalar.string)
        case .mapping(let mapping):
            var members: [String: JSONValue] = [:]
            for (key, value) in mapping {
                guard case .scalar(let name) = key else { throw OperationFailure(message: "a YAML key that is not text") }
                members[name.string] = try json(value, budget: &budget)
            }
            return .object(members)
        case .sequence(let sequence):
            var items: [JSONValue] = []
            for item in sequence { items.append(try json(item, budget: &budget)) }
            return .array(items)
        case .alias:
            throw OperationFailure(message: "an unresolved YAML alias")
        }
    }
}
