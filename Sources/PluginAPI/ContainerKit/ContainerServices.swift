import Foundation
import NixActionsPluginKit
import NixActionsPluginMessages
import NixActionsProcessKit

/// One of GitHub's `services:` of a job: a sidecar container in a network namespace the job's
/// services share (`ServiceStarter`): the job's container's (the oci executor), or the first
/// service's (a job on this machine, the local executor). Started before the first step; waited
/// for while its health check (the image's, or `--health-cmd` in `options`) is not yet passing.
public struct ContainerService: Sendable {
    public let name: String
    public let image: String
    /// `command:` split into words, given after the image (the image's CMD otherwise).
    public var command: [String] = []
    public let credentials: RegistryLogin?
    public let env: [(String, String)]
    /// `ENGINE run` options: volumes and the `options` string, split like a shell.
    public let runOptions: [String]
    /// `ports:` are published on the container that owns the network namespace.
    public let ports: [String]
    /// The name its `options` gave it (`--name mongo`): not the container's (the executor names
    /// its containers), but another host name of the service, as GitHub's network resolves it.
    public var alias: String?

    /// The services in an executor's `services` option (what the host passes for `services:`);
    /// `who` names the executor in messages.
    public static func parse(_ value: JSONValue?, who: String = "oci executor") throws -> [ContainerService] {
        guard let value else { return [] }
        guard case .object(let entries) = value else {
            throw OperationFailure(message: "\(who): 'services' must be a mapping of service names")
        }
        return try entries.sorted { $0.key < $1.key }.map { name, value in
            let what = "service '\(name)'"
            guard case .object(let options) = value else {
                throw OperationFailure(message: "\(who): \(what) must be a mapping with an 'image'")
            }
            let known: Set<String> = ["image", "env", "ports", "volumes", "options", "credentials", "entrypoint", "command"]
            if let unknown = options.keys.sorted().first(where: { !known.contains($0) }) {
                throw OperationFailure(message: "\(who): \(what) has an unknown key '\(unknown)'",
                                       hint: "keys: \(known.sorted().joined(separator: ", "))")
            }
            guard case .string(let image)? = options["image"], !image.isEmpty else {
                throw OperationFailure(message: "\(who): \(what) needs an 'image'")
            }
            try ContainerOptions.checkImage(image, what: "the image of \(what)", who: who)
            var run: [String] = []
            var alias: String?
            for volume in try ContainerOptions.list(options["volumes"], key: "\(what) volumes", who: who) { run += ["-v", volume] }
            if let extra = try ContainerOptions.string(options["options"], key: "\(what) options", who: who) {
                guard let words = ShellWords.split(extra) else {
                    throw OperationFailure(message: "\(who): the options of \(what) have an unclosed quote: \(extra)")
                }
                if let word = words.first(where: { $0 == "--network" || $0.hasPrefix("--network=") || $0 == "--net" || $0.hasPrefix("--net=") }) {
                    throw OperationFailure(message: "\(who): \(what) sets '\(word)'",
                                           hint: who == "local executor"
                                               ? "a local job's services share the first service's network namespace, whose ports are published on this machine"
                                               : "a service shares the job container's network; set 'network' on the job's container instead")
                }
                let own = try ContainerOptions.checkOwnOptions(words, what: "the options of \(what)", who: who)
                run += own.words
                alias = own.name
            }
            // GitHub's `entrypoint` (the image's ENTRYPOINT) and `command` (its CMD, words after the image).
            if let entrypoint = try ContainerOptions.string(options["entrypoint"], key: "\(what) entrypoint", who: who), !entrypoint.isEmpty {
                run += ["--entrypoint", entrypoint]
            }
            var command: [String] = []
            if let text = try ContainerOptions.string(options["command"], key: "\(what) command", who: who) {
                guard let words = ShellWords.split(text) else {
                    throw OperationFailure(message: "\(who): the command of \(what) has an unclosed quote: \(text)")
                }
                command = words
            }
            return ContainerService(name: name, image: image, command: command, credentials: try RegistryLogin(options["credentials"], what: what, who: who),
                                    env: try ContainerOptions.env(options["env"], key: "\(what) env", who: who),
                                    runOptions: run, ports: try ContainerOptions.list(options["ports"], key: "\(what) ports", who: who), alias: alias)
        }
    }
}

/// GitHub's `credentials: { username, password }` for pulling an image: handed to the engine in
/// an auth file in the job's private folder (removed after the pull), never on a command line.
public struct RegistryLogin: Sendable {
    public let username: String
    public let password: String

    public init?(_ value: JSONValue?, what: String, who: String = "oci executor") throws {
        switch value {
        case nil, .null?: return nil
        case .object(let entries)?:
            if let unknown = entries.keys.sorted().first(where: { $0 != "username" && $0 != "password" }) {
                throw OperationFailure(message: "\(who): \(what) credentials have an unknown key '\(unknown)'",
                                       hint: "credentials: { username: NAME, password: ${{ secrets.REGISTRY_TOKEN }} }")
            }
            guard case .string(let username)? = entries["username"], case .string(let password)? = entries["password"],
                !username.isEmpty, !password.isEmpty
            else {
                throw OperationFailure(message: "\(who): \(what) credentials need a 'username' and a 'password'",
                                       hint: "credentials: { username: NAME, password: ${{ secrets.REGISTRY_TOKEN }} }")
            }
            self.username = username
            self.password = password
        default:
            throw OperationFailure(message: "\(who): \(what) credentials must be a mapping with 'username' and 'password'")
        }
    }

    /// The registry of an image reference, as auth files name it: the first part when it looks
    /// like a host (a '.' or ':', or `localhost`), else Docker Hub.
    public static func registry(of image: String) -> String {
        guard let slash = image.firstIndex(of: "/") else { return "docker.io" }
        let first = image[..<slash]
        return first.contains(".") || first.contains(":") || first == "localhost" ? String(first) : "docker.io"
    }

    /// The auth file's text for `image` (podman's `--authfile`, docker's `config.json`).
    public func authFile(for image: String, docker: Bool) -> String {
        let token = Data("\(username):\(password)".utf8).base64EncodedString()
        // The docker client looks Docker Hub up under its index address; podman takes `docker.io`.
        let host = Self.registry(of: image)
        let registry = (docker && host == "docker.io" ? "https://index.docker.io/v1/" : host).replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        return "{\"auths\":{\"\(registry)\":{\"auth\":\"\(token)\"}}}\n"
    }
}

/// Reading the executor's options (`with:`, `container:`, a service's mapping).
public enum ContainerOptions {
    /// The engine options (`options:` words of `ENGINE run`) without those that would take from
    /// the executor what it finds its containers by. A `--name` is taken out and returned (GitHub
    /// workflows give services one; the executor names its containers itself); its own
    /// `io.nixactions.*` labels (anywhere in a word: `-l=…`, `-tl …`), `--label-file` and `--pod`
    /// are refused. Given, a container outlived its run for good (audit 66 remote M4).
    public static func checkOwnOptions(_ words: [String], what: String, who: String = "oci executor") throws -> (words: [String], name: String?) {
        var kept: [String] = [], name: String?
        var index = 0
        while index < words.count {
            let word = words[index]
            let next = index + 1 < words.count ? words[index + 1] : ""
            if word == "--name" && index + 1 < words.count {
                name = next
                index += 2
                continue
            }
            if word.hasPrefix("--name=") {
                name = String(word.dropFirst(7))
                index += 1
                continue
            }
            var refused: String?
            if word.contains("io.nixactions.") {
                refused = "'\(word)' would set a label of the executor's own"
            } else if word == "--pod" || word.hasPrefix("--pod=") || word == "--pod-id-file" || word.hasPrefix("--pod-id-file=") {
                refused = "'\(word)' would put the container in a pod, which outlives the job"
            } else if word == "--label-file" || word.hasPrefix("--label-file=") {
                refused = "'\(word)' would read labels from a file the executor cannot check"
            }
            if let refused {
                throw OperationFailure(message: "\(who): \(what): \(refused)",
                                       hint: "the executor labels its containers (io.nixactions.*) to remove them whatever happens; "
                                           + "leave those out (other labels: --label KEY=VALUE)")
            }
            kept.append(word)
            index += 1
        }
        return (kept, name)
    }

    /// An image reference as the engine's command line takes it: one word that cannot be read as an
    /// option (an image '--privileged' or '-v=/:/host' would be a flag of `run`; a value can come
    /// from an expression, such as a matrix made from a job's outputs).
    public static func checkImage(_ image: String, what: String, who: String = "oci executor") throws {
        guard !image.hasPrefix("-"), !image.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F }) else {
            throw OperationFailure(message: "\(who): \(what) '\(image)' is not an image name",
                                   hint: "an image is one word such as node:20, ghcr.io/owner/image:tag or image@sha256:…, not starting with '-'")
        }
    }

    public static func string(_ value: JSONValue?, key: String, who: String = "oci executor") throws -> String? {
        switch value {
        case nil, .null?: return nil
        case .string(let text)?: return text
        case .number(let number)?: return number == number.rounded() ? String(Int(number)) : String(number)
        default: throw OperationFailure(message: "\(who): '\(key)' must be a string")
        }
    }

    public static func list(_ value: JSONValue?, key: String, who: String = "oci executor") throws -> [String] {
        switch value {
        case nil, .null?: return []
        case .string(let text)?: return [text]
        case .number?: return [try string(value, key: key, who: who) ?? ""]
        case .array(let items)?:
            return try items.map {
                guard let item = try? string($0, key: key, who: who) else {
                    throw OperationFailure(message: "\(who): every entry of '\(key)' must be a string")
                }
                return item
            }
        default: throw OperationFailure(message: "\(who): '\(key)' must be a list of strings")
        }
    }

    public static func env(_ value: JSONValue?, key: String, who: String = "oci executor") throws -> [(String, String)] {
        switch value {
        case nil, .null?: return []
        case .object(let values)?:
            return try values.sorted(by: { $0.key < $1.key }).map { name, value in
                switch value {
                case .string(let text): return (name, text)
                case .number(let number): return (name, number == number.rounded() ? String(Int(number)) : String(number))
                case .bool(let flag): return (name, flag ? "true" : "false")
                default: throw OperationFailure(message: "\(who): \(key) '\(name)' must be a string")
                }
            }
        default: throw OperationFailure(message: "\(who): '\(key)' must be a mapping")
        }
    }

    /// A Go duration as `ENGINE inspect` prints it ("30s", "1m30s", "500ms", "0s").
    public static func goDuration(_ text: Substring) -> Duration? {
        var total = Duration.zero, number = "", index = text.startIndex
        guard !text.isEmpty else { return nil }
        while index < text.endIndex {
            let character = text[index]
            if character.isNumber || character == "." {
                number.append(character)
                index = text.index(after: index)
                continue
            }
            var unit = ""
            while index < text.endIndex, !text[index].isNumber { unit.append(text[index]); index = text.index(after: index) }
            guard let value = Double(number) else { return nil }
            let scale: Double
            switch unit {
            case "h": scale = 3600
            case "m": scale = 60
            case "s": scale = 1
            case "ms": scale = 0.001
            case "us", "µs": scale = 0.000_001
            case "ns": scale = 0.000_000_001
            default: return nil
            }
            total += .milliseconds(Int64(value * scale * 1000))
            number = ""
        }
        return number.isEmpty || number == "0" ? total : nil
    }
}
