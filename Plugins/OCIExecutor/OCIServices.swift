import Foundation
import NixActionsPluginKit
import NixActionsPluginMessages
import NixActionsProcessKit

/// One of GitHub's `services:` of a job: a sidecar container that shares the job container's
/// network namespace (`--network container:JOB`), so the job reaches it by its name (an
/// `/etc/hosts` entry `NAME 127.0.0.1` on the job container, which the sidecars share) and on
/// the ports it listens on. Started after the job's container, before the first step; waited
/// for while its health check (the image's, or `--health-cmd` in `options`) is not yet passing;
/// removed before the job's container (it depends on its namespace).
struct OCIService: Sendable {
    let name: String
    let image: String
    /// `command:` split into words, given after the image (the image's CMD otherwise).
    var command: [String] = []
    let credentials: RegistryLogin?
    let env: [(String, String)]
    /// `ENGINE run` options: volumes and the `options` string, split like a shell.
    let runOptions: [String]
    /// `ports:` are published on the job's container, which owns the network namespace.
    let ports: [String]

    /// The services in the executor's `services` option (what the host passes for `services:`).
    static func parse(_ value: JSONValue?) throws -> [OCIService] {
        guard let value else { return [] }
        guard case .object(let entries) = value else {
            throw OperationFailure(message: "oci executor: 'services' must be a mapping of service names")
        }
        return try entries.sorted { $0.key < $1.key }.map { name, value in
            let what = "service '\(name)'"
            guard case .object(let options) = value else {
                throw OperationFailure(message: "oci executor: \(what) must be a mapping with an 'image'")
            }
            let known: Set<String> = ["image", "env", "ports", "volumes", "options", "credentials", "entrypoint", "command"]
            if let unknown = options.keys.sorted().first(where: { !known.contains($0) }) {
                throw OperationFailure(message: "oci executor: \(what) has an unknown key '\(unknown)'",
                                       hint: "keys: \(known.sorted().joined(separator: ", "))")
            }
            guard case .string(let image)? = options["image"], !image.isEmpty else {
                throw OperationFailure(message: "oci executor: \(what) needs an 'image'")
            }
            try OCIOptions.checkImage(image, what: "the image of \(what)")
            var run: [String] = []
            for volume in try OCIOptions.list(options["volumes"], key: "\(what) volumes") { run += ["-v", volume] }
            if let extra = try OCIOptions.string(options["options"], key: "\(what) options") {
                guard let words = ShellWords.split(extra) else {
                    throw OperationFailure(message: "oci executor: the options of \(what) have an unclosed quote: \(extra)")
                }
                if let word = words.first(where: { $0 == "--network" || $0.hasPrefix("--network=") || $0 == "--net" || $0.hasPrefix("--net=") }) {
                    throw OperationFailure(message: "oci executor: \(what) sets '\(word)'",
                                           hint: "a service shares the job container's network; set 'network' on the job's container instead")
                }
                run += words
            }
            // GitHub's `entrypoint` (the image's ENTRYPOINT) and `command` (its CMD, words after the image).
            if let entrypoint = try OCIOptions.string(options["entrypoint"], key: "\(what) entrypoint"), !entrypoint.isEmpty {
                run += ["--entrypoint", entrypoint]
            }
            var command: [String] = []
            if let text = try OCIOptions.string(options["command"], key: "\(what) command") {
                guard let words = ShellWords.split(text) else {
                    throw OperationFailure(message: "oci executor: the command of \(what) has an unclosed quote: \(text)")
                }
                command = words
            }
            return OCIService(name: name, image: image, command: command, credentials: try RegistryLogin(options["credentials"], what: what),
                              env: try OCIOptions.env(options["env"], key: "\(what) env"),
                              runOptions: run, ports: try OCIOptions.list(options["ports"], key: "\(what) ports"))
        }
    }
}

/// GitHub's `credentials: { username, password }` for pulling an image: handed to the engine in
/// an auth file in the job's private folder (removed after the pull), never on a command line.
struct RegistryLogin: Sendable {
    let username: String
    let password: String

    init?(_ value: JSONValue?, what: String) throws {
        switch value {
        case nil, .null?: return nil
        case .object(let entries)?:
            if let unknown = entries.keys.sorted().first(where: { $0 != "username" && $0 != "password" }) {
                throw OperationFailure(message: "oci executor: \(what) credentials have an unknown key '\(unknown)'",
                                       hint: "credentials: { username: NAME, password: ${{ secrets.REGISTRY_TOKEN }} }")
            }
            guard case .string(let username)? = entries["username"], case .string(let password)? = entries["password"],
                !username.isEmpty, !password.isEmpty
            else {
                throw OperationFailure(message: "oci executor: \(what) credentials need a 'username' and a 'password'",
                                       hint: "credentials: { username: NAME, password: ${{ secrets.REGISTRY_TOKEN }} }")
            }
            self.username = username
            self.password = password
        default:
            throw OperationFailure(message: "oci executor: \(what) credentials must be a mapping with 'username' and 'password'")
        }
    }

    /// The registry of an image reference, as auth files name it: the first part when it looks
    /// like a host (a '.' or ':', or `localhost`), else Docker Hub.
    static func registry(of image: String) -> String {
        guard let slash = image.firstIndex(of: "/") else { return "docker.io" }
        let first = image[..<slash]
        return first.contains(".") || first.contains(":") || first == "localhost" ? String(first) : "docker.io"
    }

    /// The auth file's text for `image` (podman's `--authfile`, docker's `config.json`).
    func authFile(for image: String, docker: Bool) -> String {
        let token = Data("\(username):\(password)".utf8).base64EncodedString()
        // The docker client looks Docker Hub up under its index address; podman takes `docker.io`.
        let host = Self.registry(of: image)
        let registry = (docker && host == "docker.io" ? "https://index.docker.io/v1/" : host).replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        return "{\"auths\":{\"\(registry)\":{\"auth\":\"\(token)\"}}}\n"
    }
}

/// Reading the executor's options (`with:`, `container:`, a service's mapping).
enum OCIOptions {
    /// An image reference as the engine's command line takes it: one word that cannot be read as an
    /// option (an image '--privileged' or '-v=/:/host' would be a flag of `run`; a value can come
    /// from an expression, such as a matrix made from a job's outputs).
    static func checkImage(_ image: String, what: String) throws {
        guard !image.hasPrefix("-"), !image.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F }) else {
            throw OperationFailure(message: "oci executor: \(what) '\(image)' is not an image name",
                                   hint: "an image is one word such as node:20, ghcr.io/owner/image:tag or image@sha256:…, not starting with '-'")
        }
    }

    static func string(_ value: JSONValue?, key: String) throws -> String? {
        switch value {
        case nil, .null?: return nil
        case .string(let text)?: return text
        case .number(let number)?: return number == number.rounded() ? String(Int(number)) : String(number)
        default: throw OperationFailure(message: "oci executor: '\(key)' must be a string")
        }
    }

    static func list(_ value: JSONValue?, key: String) throws -> [String] {
        switch value {
        case nil, .null?: return []
        case .string(let text)?: return [text]
        case .number?: return [try string(value, key: key) ?? ""]
        case .array(let items)?:
            return try items.map {
                guard let item = try? string($0, key: key) else {
                    throw OperationFailure(message: "oci executor: every entry of '\(key)' must be a string")
                }
                return item
            }
        default: throw OperationFailure(message: "oci executor: '\(key)' must be a list of strings")
        }
    }

    static func env(_ value: JSONValue?, key: String) throws -> [(String, String)] {
        switch value {
        case nil, .null?: return []
        case .object(let values)?:
            return try values.sorted(by: { $0.key < $1.key }).map { name, value in
                switch value {
                case .string(let text): return (name, text)
                case .number(let number): return (name, number == number.rounded() ? String(Int(number)) : String(number))
                case .bool(let flag): return (name, flag ? "true" : "false")
                default: throw OperationFailure(message: "oci executor: \(key) '\(name)' must be a string")
                }
            }
        default: throw OperationFailure(message: "oci executor: '\(key)' must be a mapping")
        }
    }

    /// A Go duration as `ENGINE inspect` prints it ("30s", "1m30s", "500ms", "0s").
    static func goDuration(_ text: Substring) -> Duration? {
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

extension OCIExecutor {
    func serviceContainerName(_ jobKey: String, _ service: OCIService) -> String {
        containerName(jobKey) + "-svc-" + service.name
    }

    /// The job container's options for its services: the host names and the published ports.
    var serviceHostOptions: [String] {
        services.flatMap { ["--add-host", "\($0.name):127.0.0.1"] + $0.ports.flatMap { ["-p", $0] } }
    }

    /// Start the job's services in its container's network namespace and wait until each is healthy.
    func startServices(_ job: JobSpec, container: String, control: String) async throws {
        for service in services {
            try Task.checkCancellation()
            try await ensureImage(service.image, login: service.credentials, of: job,
                                  role: "image '\(service.image)' of service '\(service.name)'")
            let name = serviceContainerName(job.jobKey, service)
            var arguments = [engine, "run", "-d", "--name", name, "--network", "container:" + container,
                             "--label", "\(Self.runLabel)=\(configuration.runID)", "--label", "io.nixactions.job=\(job.jobKey)",
                             "--label", "\(Self.serviceLabel)=\(service.name)"]
            // In the job's folder, not its private folder: that one is mounted into the job's
            // container, whose steps must not read a service's values (a database password).
            let envFile = jobDirectory(job.jobKey) + "/service-\(service.name).env"
            defer { unlink(envFile) }
            if !service.env.isEmpty {
                arguments += ["--env-file", try writeEnvFile(service.env, to: envFile)]
            }
            arguments += service.runOptions + [service.image] + service.command
            servicesStarted.withLock { $0[job.jobKey, default: []].append(name) }
            let started = try await capture(arguments)
            guard started.status == 0 else {
                throw OperationFailure(
                    message: "cannot start service '\(service.name)' (image '\(service.image)') of job '\(job.displayName)': \(started.errorText)",
                    hint: "run '\(engineName) run --rm \(service.image)' to see the engine's own error")
            }
            try await waitHealthy(name, service: service, job: job)
        }
    }

    /// Wait while the service's health check (if it has one) does not pass yet: up to its start
    /// period plus its retries × (interval + timeout). Podman runs checks only through systemd
    /// timers, so they are run here (`podman healthcheck run`); docker runs its own.
    func waitHealthy(_ name: String, service: OCIService, job: JobSpec) async throws {
        let format = "{{if .Config.Healthcheck}}{{.Config.Healthcheck.Interval}} {{.Config.Healthcheck.Timeout}} "
            + "{{.Config.Healthcheck.StartPeriod}} {{.Config.Healthcheck.Retries}} {{.Config.Healthcheck.Test}}{{else}}none{{end}}"
        let inspected = try await capture([engine, "inspect", "--format", format, name])
        let fields = inspected.outputText.split(whereSeparator: { $0 == " " || $0 == "\n" })
        // No health check (or `--no-healthcheck`, a test of NONE): started is enough.
        guard inspected.status == 0, fields.count >= 5, fields[4] != "[NONE]" else { return }
        let interval = OCIOptions.goDuration(fields[0]).flatMap { $0 > .zero ? $0 : nil } ?? .seconds(30)
        let timeout = OCIOptions.goDuration(fields[1]).flatMap { $0 > .zero ? $0 : nil } ?? .seconds(30)
        let startPeriod = OCIOptions.goDuration(fields[2]) ?? .zero
        let retries = max(Int(fields[3]) ?? 3, 1)
        let limit = startPeriod + (interval + timeout) * retries
        let clock = ContinuousClock(), deadline = clock.now + limit
        var pause = Duration.milliseconds(200)
        while true {
            let healthy: Bool
            if engineName == "podman" {
                healthy = try await capture([engine, "healthcheck", "run", name]).status == 0
            } else {
                healthy = try await capture([engine, "inspect", "--format", "{{.State.Health.Status}}", name]).outputText.hasPrefix("healthy")
            }
            if healthy { return }
            let running = try await capture([engine, "inspect", "--format", "{{.State.Running}}", name]).outputText.hasPrefix("true")
            if !running || clock.now >= deadline {
                let logs = try await capture([engine, "logs", "--tail", "20", name])
                let tail = String(decoding: logs.output, as: UTF8.self) + logs.errorText
                throw OperationFailure(
                    message: "service '\(service.name)' of job '\(job.displayName)' "
                        + (running ? "is not healthy after \(limit.components.seconds)s" : "stopped before it was healthy")
                        + (tail.isEmpty ? "" : "; its last output:\n" + tail.trimmingCharacters(in: .whitespacesAndNewlines)),
                    hint: "check its image and env, and its health check (--health-cmd in 'options')")
            }
            try await Task.sleep(for: min(pause, interval, deadline - clock.now))
            pause = min(pause * 2, .seconds(2))
        }
    }

    /// Remove the job's services (before its container: they use its network namespace).
    func removeServices(_ jobKey: String, context: OperationContext) async {
        guard let names = servicesStarted.withLock({ $0.removeValue(forKey: jobKey) }), !names.isEmpty else { return }
        let removed = try? await capture([engine, "rm", "-f", "-t", "0", "-v"] + names)
        if let removed, removed.status != 0, !removed.errorText.contains("no such container") {
            context.log(.warning, "could not remove the services of job '\(jobKey)': \(removed.errorText)")
        }
    }
}
