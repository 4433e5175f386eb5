import Foundation
import NixActionsPluginKit
import NixActionsPluginMessages
import NixActionsProcessKit

/// podman or docker, driven through its command line: the oci executor's job containers, and the
/// service containers (`services:`) of the oci and local executors.
public struct ContainerEngine: Sendable {
    /// The engine's executable.
    public let path: String
    /// The label every container of a run carries (its value: the run's id), for cleanup after a
    /// host that died.
    public static let runLabel = "io.nixactions.run"
    /// The label of a service container (its value: the service's name).
    public static let serviceLabel = "io.nixactions.service"

    public init(path: String) { self.path = path }

    /// `podman` or `docker`.
    public var name: String { (path as NSString).lastPathComponent }

    /// `wanted` (podman or docker, a name on PATH or a path), else podman, else docker on PATH;
    /// `who` names the executor in messages.
    /// Refuse an `engine` value that names neither podman nor docker (without looking for it: `validate`).
    public static func checkName(_ wanted: String?, who: String) throws {
        guard let wanted, !["podman", "docker"].contains((wanted as NSString).lastPathComponent) else { return }
        throw OperationFailure(message: "\(who): engine '\(wanted)' is not podman or docker", hint: "engine: podman, engine: docker, or a path to either")
    }

    public static func find(_ wanted: String?, who: String) throws -> ContainerEngine {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        if let wanted {
            try checkName(wanted, who: who)
            let found = FastFiles.resolve(wanted, searchPath: path)
            guard access(found, X_OK) == 0 else {
                throw OperationFailure(message: "\(who): the container engine '\(wanted)' is not installed",
                                       hint: "install it (apt-get install podman runc), or choose another with engine:")
            }
            return ContainerEngine(path: found)
        }
        guard let found = ["podman", "docker"].map({ FastFiles.resolve($0, searchPath: path) }).first(where: { access($0, X_OK) == 0 }) else {
            throw OperationFailure(message: "\(who): no container engine found (podman or docker on PATH)",
                                   hint: "install podman (apt-get install podman runc)")
        }
        return ContainerEngine(path: found)
    }

    /// Run a command (`arguments[0]` is the program, usually `path`) to its end, keeping what it printed.
    /// `temporary`: its TMPDIR instead of this process's.
    /// - Parameter finishAfterCancel: see `CapturedCommand.run`.
    public func capture(_ arguments: [String], temporary: String? = nil, finishAfterCancel: Duration? = nil) async throws -> CapturedCommand {
        var environment = ProcessInfo.processInfo.environment
        if let temporary { environment["TMPDIR"] = temporary }
        do {
            return try await CapturedCommand.run(arguments, environment: environment, finishAfterCancel: finishAfterCancel)
        } catch {
            throw OperationFailure(message: "cannot run \(path): \(String(cString: strerror(error.errno)))")
        }
    }

    /// Pull `image` when it is not on this machine, so that a failure says which image it was
    /// (`role`, of job `jobName`). A login goes into an auth file in `authFolder` (made private,
    /// removed after the pull), never on a command line. Returns the user the image's
    /// configuration names (its `USER`; empty when it names none).
    @discardableResult
    public func ensureImage(_ image: String, login: RegistryLogin?, authFolder: String, jobName: String, role: String) async throws -> String {
        let inspect = [path, "image", "inspect", "--format", "{{.Id}} {{.Config.User}}", image]
        func user(_ inspected: CapturedCommand) -> String {
            let line = inspected.outputText.split(separator: "\n").first ?? ""
            return line.split(separator: " ", maxSplits: 1).dropFirst().first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        }
        let inspected = try await capture(inspect)
        guard inspected.status != 0 else { return user(inspected) }
        var pull = [path, "pull", "-q", image]
        var written: [String] = []
        defer { for item in written.reversed() { unlink(item); rmdir(item) } }
        if let login {
            // podman reads `--authfile FILE`; docker reads `config.json` in `--config DIR`.
            guard mkdir(authFolder, 0o700) == 0 else {
                throw OperationFailure(message: "cannot create \(authFolder): \(String(cString: strerror(errno)))")
            }
            written.append(authFolder)
            let file = authFolder + "/" + (name == "docker" ? "config.json" : "auth.json")
            if let error = FastFiles.write(login.authFile(for: image, docker: name == "docker"), to: file) {
                throw OperationFailure(message: "cannot write the registry login: \(String(cString: strerror(error)))")
            }
            written.append(file)
            pull = name == "docker" ? [path, "--config", authFolder, "pull", "-q", image] : [path, "pull", "-q", "--authfile", file, image]
        }
        // podman stages what it pulls in a folder of TMPDIR that a cancelled pull leaves there
        // (audit 56 F4: `storageNNNN`): it gets one of the run's own, removed after the pull and
        // with the run's folder however the run ends.
        let staging = authFolder + ".pull"
        guard mkdir(staging, 0o700) == 0 else {
            throw OperationFailure(message: "cannot create \(staging): \(String(cString: strerror(errno)))")
        }
        defer { FastFiles.removeTree(staging) }
        let pulled = try await capture(pull, temporary: staging)
        guard pulled.status == 0 else {
            throw OperationFailure(
                message: "\(role) of job '\(jobName)' is not on this machine and pulling it failed: \(pulled.errorText)",
                hint: "build or load it locally ('\(name) images' lists them), or check the name and the registry")
        }
        let pulledImage = try await capture(inspect)
        return pulledImage.status == 0 ? user(pulledImage) : ""
    }

    /// A `--env-file` (values never on a command line); returns its path.
    public static func writeEnvFile(_ env: [(String, String)], to file: String, who: String) throws -> String {
        guard env.allSatisfy({ !$0.1.contains("\n") }) else {
            throw OperationFailure(message: "\(who): a container env value has a line break", hint: "pass it to the steps with env: instead")
        }
        if let error = FastFiles.write(env.map { "\($0.0)=\($0.1)\n" }.joined(), to: file) {
            throw OperationFailure(message: "\(who): cannot write \(file): \(String(cString: strerror(error)))")
        }
        return file
    }

    /// A script that removes every container of run `runID` (services first: they may use another
    /// container's network namespace, which cannot go before them). The run's supervisor, or the
    /// next run's sweep, runs the scripts in `RUN/cleanup` when the host died before it could.
    public func cleanupScript(runID: String, who: String) -> String {
        let label = ShellWords.quote("label=\(Self.runLabel)=\(runID)")
        let engine = ShellWords.quote(path)
        // The engine's own commands that start a container of the run carry its label on their
        // command line: one still under way (a host killed while it started a service) would make
        // its container after the removal below, and keep a namespace the job's container shares.
        // It is let finish (killed half-way, it leaves its conmon behind), 10 s at most, then
        // asked to stop.
        let starting = ShellWords.quote("\(Self.runLabel)=\(runID)")
        return """
            # Written by the \(who): remove the containers of run \(runID).
            pids=$(pgrep -f -- \(starting) 2>/dev/null)
            if [ -n "$pids" ]; then
              n=0
              while :; do
                alive=; for p in $pids; do kill -0 "$p" 2>/dev/null && alive=1; done
                [ -z "$alive" ] && break
                n=$((n + 1))
                if [ $n -eq 100 ]; then kill -TERM $pids 2>/dev/null; elif [ $n -ge 130 ]; then break; fi
                sleep 0.1
              done
            fi
            # Services first (they use the job container's network), then the rest; again while
            # any is left (a removal can fail while another container joins one), a few times.
            n=0
            while :; do
              ids=$(\(engine) ps -aq --filter \(label) --filter label=\(Self.serviceLabel) 2>/dev/null)
              [ -z "$ids" ] || \(engine) rm -f -t 0 -v $ids >/dev/null 2>&1
              ids=$(\(engine) ps -aq --filter \(label) 2>/dev/null)
              [ -z "$ids" ] && break
              \(engine) rm -f -t 0 -v $ids >/dev/null 2>&1
              n=$((n + 1))
              if [ $n -ge 5 ]; then echo "containers of run \(runID) are left: $ids" >&2; exit 1; fi
              sleep 0.5
            done
            true

            """
    }

    /// Write `cleanupScript` into `RUN/cleanup/NAME.sh`.
    public func writeCleanupScript(runDirectory: String, runID: String, name: String, who: String) throws {
        let folder = runDirectory + "/cleanup"
        if mkdir(folder, 0o700) != 0 && errno != EEXIST {
            throw OperationFailure(message: "\(who): cannot create \(folder): \(String(cString: strerror(errno)))")
        }
        if let error = FastFiles.write(cleanupScript(runID: runID, who: who), to: folder + "/" + name + ".sh") {
            throw OperationFailure(message: "\(who): cannot write its cleanup script: \(String(cString: strerror(error)))")
        }
    }

    /// Remove containers (`rm -f`, no grace), one after another in the order given (a container
    /// whose network namespace others use goes after them); the engine's errors for those that
    /// failed for another reason than being gone already.
    public func remove(_ names: [String]) async -> String? {
        var errors: [String] = []
        for name in names {
            guard let removed = try? await capture([path, "rm", "-f", "-t", "0", "-v", name]) else { return "cannot run \(path)" }
            if removed.status != 0 && !removed.errorText.contains("no such container") { errors.append(removed.errorText) }
        }
        return errors.isEmpty ? nil : errors.joined(separator: "; ")
    }
}

/// Starts a job's `services:` and waits until each is healthy.
public struct ServiceStarter: Sendable {
    public let engine: ContainerEngine
    public let runID: String
    /// The executor, in messages (`oci executor`).
    public let who: String

    public init(engine: ContainerEngine, runID: String, who: String) {
        self.engine = engine
        self.runID = runID
        self.who = who
    }

    /// The container name of service `service` of the job whose containers are named `prefix`.
    public static func containerName(prefix: String, service: String) -> String { prefix + "-svc-" + service }

    /// Start `services` in order, each with the network options `network(index)` gives, in the
    /// job's folder `scratch` (env files and registry logins, removed at once: not a folder a
    /// job's steps can read). `started` is told each container's name before it is started, so
    /// that whatever happens it can be removed. Returns each service's container id, by name.
    @discardableResult
    public func start(_ services: [ContainerService], jobKey: String, jobName: String, prefix: String, scratch: String,
                      network: (Int) -> [String], started: (String) -> Void) async throws -> [String: String] {
        var ids: [String: String] = [:]
        for (index, service) in services.enumerated() {
            try Task.checkCancellation()
            try await engine.ensureImage(service.image, login: service.credentials, authFolder: scratch + "/auth-service-\(service.name)",
                                         jobName: jobName, role: "image '\(service.image)' of service '\(service.name)'")
            let name = Self.containerName(prefix: prefix, service: service.name)
            var arguments = [engine.path, "run", "-d", "--name", name] + network(index)
                + ["--label", "\(ContainerEngine.runLabel)=\(runID)", "--label", "io.nixactions.job=\(jobKey)",
                   "--label", "\(ContainerEngine.serviceLabel)=\(service.name)"]
            let envFile = scratch + "/service-\(service.name).env"
            defer { unlink(envFile) }
            if !service.env.isEmpty {
                arguments += ["--env-file", try ContainerEngine.writeEnvFile(service.env, to: envFile, who: who)]
            }
            arguments += service.runOptions + [service.image] + service.command
            started(name)
            let result = try await engine.capture(arguments)
            guard result.status == 0 else {
                throw OperationFailure(
                    message: "cannot start service '\(service.name)' (image '\(service.image)') of job '\(jobName)': \(result.errorText)",
                    hint: "run '\(engine.name) run --rm \(service.image)' to see the engine's own error")
            }
            ids[service.name] = result.outputText.trimmingCharacters(in: .whitespacesAndNewlines)
            try await waitHealthy(name, service: service, jobName: jobName)
        }
        return ids
    }

    /// What `job.services` shows of `services` started (`ids`, by name) in the network namespace
    /// of container `owner`, whose published ports the engine lists (`ENGINE port OWNER`): each
    /// service's id, and for each of its `ports` the port of this machine it is published on.
    public func describe(_ services: [ContainerService], ids: [String: String], owner: String) async throws -> [String: JobService] {
        let published = Self.hostPorts(try await engine.capture([engine.path, "port", owner]).outputText)
        var result: [String: JobService] = [:]
        for service in services {
            var ports: [String: String] = [:]
            for port in service.ports {
                let inside = Self.containerPort(port)
                if let host = published[inside] { ports[String(inside.prefix { $0 != "/" })] = host }
            }
            result[service.name] = JobService(id: ids[service.name] ?? "", ports: ports, network: "")
        }
        return result
    }

    /// `ports` entries as published on this machine: an address given (`0.0.0.0:8080:80`) is
    /// kept; without one, 127.0.0.1 (`8080:80` → `127.0.0.1:8080:80`, `80` → `127.0.0.1::80`, a
    /// port the engine chooses), so that only this machine reaches a service.
    public static func localPublished(_ port: String) -> String {
        let mapping = port.split(separator: "/", maxSplits: 1).first.map(String.init) ?? port
        switch mapping.filter({ $0 == ":" }).count {
        case 0: return "127.0.0.1::" + port
        case 1: return "127.0.0.1:" + port
        default: return port
        }
    }

    /// The container port of a `ports` entry, with its protocol (`8080:80` → `80/tcp`).
    public static func containerPort(_ port: String) -> String {
        let parts = port.split(separator: "/", maxSplits: 1)
        let number = parts.first.map { String($0.split(separator: ":", omittingEmptySubsequences: false).last ?? "") } ?? port
        return number + "/" + (parts.count > 1 ? String(parts[1]) : "tcp")
    }

    /// What `ENGINE port CONTAINER` printed, as container port (`80/tcp`) → host port (`41234`).
    public static func hostPorts(_ text: String) -> [String: String] {
        var ports: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let sides = line.components(separatedBy: " -> ")
            guard sides.count == 2, let colon = sides[1].lastIndex(of: ":") else { continue }
            let port = sides[0].trimmingCharacters(in: .whitespaces)
            if ports[port] == nil { ports[port] = String(sides[1][sides[1].index(after: colon)...]).trimmingCharacters(in: .whitespaces) }
        }
        return ports
    }

    /// Wait while the service's health check (if it has one) does not pass yet: up to its start
    /// period plus its retries × (interval + timeout). Podman runs checks only through systemd
    /// timers, so they are run here (`podman healthcheck run`); docker runs its own.
    public func waitHealthy(_ name: String, service: ContainerService, jobName: String) async throws {
        let path = engine.path
        let format = "{{if .Config.Healthcheck}}{{.Config.Healthcheck.Interval}} {{.Config.Healthcheck.Timeout}} "
            + "{{.Config.Healthcheck.StartPeriod}} {{.Config.Healthcheck.Retries}} {{.Config.Healthcheck.Test}}{{else}}none{{end}}"
        let inspected = try await engine.capture([path, "inspect", "--format", format, name])
        let fields = inspected.outputText.split(whereSeparator: { $0 == " " || $0 == "\n" })
        // No health check (or `--no-healthcheck`, a test of NONE): started is enough.
        guard inspected.status == 0, fields.count >= 5, fields[4] != "[NONE]" else { return }
        let interval = ContainerOptions.goDuration(fields[0]).flatMap { $0 > .zero ? $0 : nil } ?? .seconds(30)
        let timeout = ContainerOptions.goDuration(fields[1]).flatMap { $0 > .zero ? $0 : nil } ?? .seconds(30)
        let startPeriod = ContainerOptions.goDuration(fields[2]) ?? .zero
        let retries = max(Int(fields[3]) ?? 3, 1)
        let limit = startPeriod + (interval + timeout) * retries
        let clock = ContinuousClock(), began = clock.now, deadline = began + limit
        // Docker's rule: past the start period, `retries` failed checks in a row make a container
        // unhealthy, about retries × interval in (audit 58 examples M1: checks that failed at once
        // held the job for the whole bound, 93 s, which only a check that hangs should take).
        let counted = began + startPeriod, unhealthyAt = counted + interval * retries
        var failures = 0
        var pause = Duration.milliseconds(200)
        while true {
            var healthy = false, unhealthy = false
            if engine.name == "podman" {
                healthy = try await engine.capture([path, "healthcheck", "run", name]).status == 0
                if !healthy && clock.now >= counted { failures += 1 }
                unhealthy = failures >= retries && clock.now >= unhealthyAt
            } else {
                let status = try await engine.capture([path, "inspect", "--format", "{{.State.Health.Status}}", name]).outputText
                healthy = status.hasPrefix("healthy")
                unhealthy = status.hasPrefix("unhealthy")
            }
            if healthy { return }
            let running = try await engine.capture([path, "inspect", "--format", "{{.State.Running}}", name]).outputText.hasPrefix("true")
            if !running || unhealthy || clock.now >= deadline {
                let logs = try await engine.capture([path, "logs", "--tail", "20", name])
                let tail = String(decoding: logs.output, as: UTF8.self) + logs.errorText
                let waited = Int(((clock.now - began) / .seconds(1)).rounded())
                let why = unhealthy ? " (its health check failed \(engine.name == "podman" ? "\(failures) times" : "\(retries) times") in a row)" : ""
                throw OperationFailure(
                    message: "service '\(service.name)' of job '\(jobName)' "
                        + (running ? "is not healthy after \(waited)s\(why)" : "stopped before it was healthy")
                        + (tail.isEmpty ? "" : "; its last output:\n" + tail.trimmingCharacters(in: .whitespacesAndNewlines)),
                    hint: "check its image and env, and its health check (--health-cmd in 'options')")
            }
            try await Task.sleep(for: min(pause, interval, deadline - clock.now))
            pause = min(pause * 2, .seconds(2))
        }
    }
}
