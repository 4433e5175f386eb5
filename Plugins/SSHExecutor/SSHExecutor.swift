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
            id: "ssh", name: "SSH executor", version: "0.1.0",
            description: "Runs each job on a host reached with the system's OpenSSH client, one connection per host",
            executor: SSHExecutor.self),
        host: host, out: out, error: error)
}

/// Runs each job on a remote host with the system's `ssh` (so `~/.ssh/config`, agents and jump
/// hosts work), one multiplexed connection per host (ControlMaster, its socket in a private
/// folder of this run).
///
/// Remote layout: `WORKDIR/nixactions-RUN_ID/JOB/{workspace,tmp,control}`, the run's folder private
/// (mode 700, `makeRunFolder`). The project is copied
/// in as a tar stream; each step's script, environment and secrets travel in one wrapper on the
/// connection's standard input (never on a command line); the `$GITHUB_*` files come back at the
/// end of the step's output, in the same command (`StepTrailer`). A cancelled or timed-out step's process group is signalled on the host; the job's
/// folder is removed when it finishes, the run's when the run ends (a cleanup script the host,
/// its supervisor or the next run execute).
///
/// Options: `host` or `hosts` (a pool: `[user@]name[:port]` each), `user`, `port`,
/// `identity-file`, `known-hosts`, `workdir` (default `/tmp`), `ssh-options` (more `-o` options),
/// `grace-seconds`.
final class SSHExecutor: ExecutorPlugin {
    struct Target: Sendable, Hashable {
        var host: String
        var user: String?
        var port: Int?
        var name: String { (user.map { "\($0)@" } ?? "") + host + (port.map { ":\($0)" } ?? "") }
    }

    let configuration: ExecutorConfiguration
    let targets: [Target]
    let identityFile: String?
    let knownHosts: String?
    let extraOptions: [String]
    let workdir: String
    let grace: Duration
    /// Where the connections' control sockets live (short paths: a socket path has 108 bytes).
    let sockets: PrivateFolder
    let pool: HostPool
    /// The host and remote folder of each running job.
    let jobs = Mutex<[String: Target]>([:])
    /// Each running job's session (its steps' shell on the host).
    let sessions = Mutex<[String: SSHSession]>([:])
    /// The hosts this run may have left something on (one it tried to reach, unless ssh could not
    /// connect): the cleanup script visits these only (audit 47: a host that never answered cost
    /// the run's end another connect timeout).
    let touched = Mutex<Set<Target>>([])
    /// Hosts some job of the run has reached (its folders may be there): never left out of the
    /// run's cleanup again, whatever a later job's connection does (review 60 M1).
    let reachedHosts = Mutex<Set<Target>>([])
    /// The run's folder on each host, made by `mktemp` at the first job there
    /// (`WORKDIR/nixactions-RUN_ID-XXXXXXXX`). A name known before it is made could be taken
    /// first by another user of the host, failing every job (audit 64 users M1: the run id is in
    /// every user's `ps`); `mktemp` picks one nobody has.
    let remoteRuns = Mutex<[Target: String]>([:])
    let serial = Atomic<Int>(0)
    /// The ssh clients' environment (`environment`), made once when the instance is.
    let clientEnvironment = Mutex<[String: String]>([:])

    /// The options `init` accepts, published for `validate` (options.h).
    static let options: Set<String> = ["host", "hosts", "user", "port", "identity-file", "known-hosts", "workdir", "ssh-options", "grace-seconds"]
    static var optionNames: Set<String>? { options }

    /// The options as `init` takes them.
    struct Options {
        var targets: [Target] = []
        var identityFile: String?
        var knownHosts: String?
        var extraOptions: [String] = []
        var workdir = "/tmp"
        var grace: Duration = .seconds(5)
    }

    /// `ssh -o` keywords an option may not set: those that run a command or load code on this
    /// machine (the options may come from expressions: a step's output on a host must not become a
    /// command here, audit 66 remote M3), and those the executor's own connection handling rests on.
    /// Keywords are case-insensitive, as ssh reads them.
    static let refusedKeywords: [String: String] = [
        "proxycommand": "runs a command on this machine", "localcommand": "runs a command on this machine",
        "permitlocalcommand": "lets LocalCommand run a command on this machine", "knownhostscommand": "runs a command on this machine",
        "pkcs11provider": "loads a library into ssh on this machine", "securitykeyprovider": "loads a library into ssh on this machine",
        "match": "can run a command on this machine (Match exec)", "include": "reads configuration files of this machine",
        "controlmaster": "is the executor's own (its jobs share one connection per host)",
        "controlpath": "is the executor's own (its jobs share one connection per host)",
        "controlpersist": "is the executor's own (its jobs share one connection per host)",
        "batchmode": "is the executor's own (ssh must never ask a question)",
        "sendenv": "would send this machine's variables, secrets among them, to the host",
        "forwardagent": "would give the host's steps this machine's key agent",
        "forwardx11": "would give the host's steps this machine's display", "forwardx11trusted": "would give the host's steps this machine's display",
        "localforward": "would open ports on this machine", "dynamicforward": "would open ports on this machine",
        "remoteforward": "would open ports of this machine to the host", "permitremoteopen": "would open ports of this machine to the host",
        "hostname": "is the executor's own (give the host in 'host' or 'hosts')", "sessiontype": "is the executor's own",
        "remotecommand": "is the executor's own", "requesttty": "is the executor's own (its steps' output is not a terminal's)",
        "userknownhostsfile": "is the executor's own (give 'known-hosts')", "stdinnull": "is the executor's own (its steps come on standard input)",
    ]

    /// Parse and check `options` as `init` does; `complete` false for `validate` (options.h
    /// `check`), where values made by `${{ }}` are left out, so a missing host is not an error.
    static func parse(_ options: [String: JSONValue], complete: Bool) throws -> Options {
        let known = Self.options
        if let unknown = options.keys.sorted().first(where: { !known.contains($0) }) {
            throw OperationFailure(message: "ssh executor: unknown option '\(unknown)'", hint: "options: \(known.sorted().joined(separator: ", "))")
        }
        func string(_ key: String) throws -> String? {
            switch options[key] {
            case nil, .null?: return nil
            case .string(let value)?: return value
            case .number(let value)?: return PluginOptions.numberText(value)
            default: throw OperationFailure(message: "ssh executor: '\(key)' must be a string")
            }
        }
        var parsed = Options()
        let user = try string("user")
        let port = try string("port").map { text -> Int in
            guard let port = Int(text), (1...65535).contains(port) else { return -1 }
            return port
        }
        if port == -1 { throw OperationFailure(message: "ssh executor: 'port' must be a number from 1 to 65535") }
        var names: [String] = []
        let single = try string("host")
        if let single { names.append(single) }
        switch options["hosts"] {
        case nil, .null?: break
        case .array(let items)?:
            guard single == nil else {
                throw OperationFailure(message: "ssh executor: 'host' and 'hosts' are both given", hint: "one host: host: NAME; a pool: hosts: [NAME, …]")
            }
            for item in items {
                guard case .string(let name) = item else { throw OperationFailure(message: "ssh executor: every entry of 'hosts' must be a string") }
                names.append(name)
            }
            if items.isEmpty { throw OperationFailure(message: "ssh executor: 'hosts' is empty", hint: "hosts: [build1, build2]") }
        default: throw OperationFailure(message: "ssh executor: 'hosts' must be a list of host names")
        }
        if names.isEmpty && complete {
            throw OperationFailure(message: "the ssh executor needs a 'host' (or 'hosts')", hint: "executor: { plugin: ssh, with: { host: build1 } }")
        }
        parsed.targets = try names.map { try Self.target($0, user: user, port: port) }
        parsed.identityFile = try string("identity-file")
        parsed.knownHosts = try string("known-hosts")
        switch options["ssh-options"] {
        case nil, .null?: break
        case .array(let items)?:
            parsed.extraOptions = try items.flatMap { ["-o", try checkedOption($0)] }
        default: throw OperationFailure(message: "ssh executor: 'ssh-options' must be a list of NAME=VALUE")
        }
        if let workdir = try string("workdir") {
            // Relative, it was a folder of the remote home that every step then missed (audit 66 remote M2).
            guard workdir.hasPrefix("/") else {
                throw OperationFailure(message: "ssh executor: 'workdir' '\(workdir)' is not an absolute path", hint: "workdir: /var/tmp/ci")
            }
            parsed.workdir = workdir
        }
        parsed.grace = try PluginOptions.graceSeconds(options["grace-seconds"], who: "ssh executor")
        return parsed
    }

    /// One `ssh-options` entry, `NAME=VALUE`, unless ssh would read it as an option this executor refuses.
    static func checkedOption(_ item: JSONValue) throws -> String {
        // NAME=VALUE with NAME letters and digits only, and no control character anywhere:
        // ssh reads its keywords loosely (quotes dropped, a leading '=' skipped, CR and LF as
        // spaces), so `"ProxyCommand"=…` or `=ProxyCommand=…` got past a looser check (review 67).
        guard case .string(let option) = item, let equals = option.firstIndex(of: "="), equals != option.startIndex,
              option[..<equals].unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)) }),
              !option.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
        else {
            throw OperationFailure(message: "ssh executor: each 'ssh-options' entry is NAME=VALUE (an ssh -o option; NAME letters and digits, no control characters)",
                                   hint: "ssh-options: [ServerAliveInterval=30, ProxyJump=bastion]")
        }
        let keyword = option[..<equals].lowercased()
        let value = option[option.index(after: equals)...].trimmingCharacters(in: .whitespaces).lowercased()
        if keyword == "stricthostkeychecking" && (value == "no" || value == "off") {
            throw OperationFailure(message: "ssh executor: 'ssh-options' entry 'StrictHostKeyChecking=\(value)' would accept any host key",
                                   hint: "give the host's key in 'known-hosts', or StrictHostKeyChecking=accept-new for a host seen the first time")
        }
        if let why = refusedKeywords[keyword] {
            throw OperationFailure(message: "ssh executor: 'ssh-options' entry '\(option[..<equals])' \(why)",
                                   hint: keyword.hasPrefix("proxy") || keyword == "localcommand" || keyword == "permitlocalcommand"
                                       ? "for a jump host use ProxyJump=HOST; a command for this host belongs in your own ~/.ssh/config, which ssh reads"
                                       : "set it in your own ~/.ssh/config for that host, which ssh reads")
        }
        return option
    }

    /// Published for `validate` (options.h `check`): the values `init` would refuse.
    static func checkOptions(_ options: [String: JSONValue]) throws {
        _ = try parse(options, complete: false)
    }

    /// With every option known (none made by `${{ }}`), a missing host is refused too.
    static func checkOptions(_ options: [String: JSONValue], complete: Bool) throws {
        _ = try parse(options, complete: complete)
    }

    init(configuration: ExecutorConfiguration, host: HostServices) throws {
        self.configuration = configuration
        let parsed = try Self.parse(configuration.options, complete: true)
        targets = parsed.targets
        identityFile = parsed.identityFile
        knownHosts = parsed.knownHosts
        extraOptions = parsed.extraOptions
        workdir = parsed.workdir
        grace = parsed.grace
        guard FastFiles.resolve("ssh", searchPath: ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin") != "ssh" else {
            throw OperationFailure(message: "ssh executor: the OpenSSH client 'ssh' is not installed", hint: "apt-get install openssh-client")
        }
        do {
            sockets = try PrivateFolder(base: "/tmp", prefix: "nxa-ssh-")
        } catch {
            throw OperationFailure(message: "ssh executor: cannot create a folder for its connections in /tmp: \(error)")
        }
        pool = HostPool(targets)
        try writeCleanupScript()
        // Made once: each step's commands use it (the session, a cancel, file transfers).
        let patterns = Self.sentPatterns(targets.map { sshArguments($0) })
        var environment = ProcessInfo.processInfo.environment.filter { name, _ in !patterns.contains { fnmatch($0, name, 0) == 0 } }
        environment[JobContainment.trackingVariable] = (configuration.trackingID ?? configuration.runID) + "-ssh"
        clientEnvironment.withLock { $0 = environment }
    }

    /// The variable names (patterns) ssh's configuration sends to the hosts (`SendEnv`, as `ssh
    /// -G` reports it for each; Debian's `ssh_config` has `LANG LC_*`): LANG and LC_* when ssh
    /// cannot say.
    static func sentPatterns(_ commands: [[String]]) -> [String] {
        var patterns: Set<String> = []
        for command in commands {
            // `ssh … -- HOST`: -G goes before the options; nothing is connected to.
            var arguments = command
            arguments.insert("-G", at: 1)
            var output: [UInt8] = []
            let child = try? ChildProcess(arguments: arguments, environment: ProcessInfo.processInfo.environment, directory: nil)
            guard let child, child.wait(onOutput: { stream, bytes in if stream == 1 { output += bytes } }) == .exited(0) else {
                patterns.formUnion(["LANG", "LC_*"])
                continue
            }
            for line in output.split(separator: UInt8(ascii: "\n")) where line.starts(with: Array("sendenv ".utf8)) {
                patterns.insert(String(decoding: line.dropFirst(8), as: UTF8.self).trimmingCharacters(in: .whitespaces))
            }
        }
        return patterns.sorted()
    }

    deinit {
        sockets.remove()
    }

    /// Not empty, not starting with '-', without spaces or control characters: a word ssh takes as
    /// a name, never as an option.
    static func isWord(_ text: Substring) -> Bool {
        !text.isEmpty && !text.hasPrefix("-") && !text.unicodeScalars.contains { $0.value <= 0x20 || $0.value == 0x7F }
    }

    /// `[user@]host[:port]`.
    static func target(_ text: String, user: String?, port: Int?) throws -> Target {
        var rest = Substring(text)
        var target = Target(host: "", user: user, port: port)
        if let at = rest.lastIndex(of: "@") {
            target.user = String(rest[..<at])
            rest = rest[rest.index(after: at)...]
        }
        if let colon = rest.lastIndex(of: ":"), let number = Int(rest[rest.index(after: colon)...]) {
            guard (1...65535).contains(number) else {
                throw OperationFailure(message: "ssh executor: '\(text)': the port must be a number from 1 to 65535")
            }
            target.port = number
            rest = rest[..<colon]
        }
        guard isWord(rest), !rest.contains("/") else {
            throw OperationFailure(message: "ssh executor: '\(text)' is not a host ([user@]name[:port])")
        }
        // A user name is one word too: `-oProxyCommand=…@host` would be an option of ssh that runs
        // a command on this machine (the options may come from expressions, matrix values, inputs).
        if let user = target.user, !isWord(Substring(user)) || user.contains("@") {
            throw OperationFailure(message: "ssh executor: '\(user)' is not a user name",
                                   hint: "a user name is one word, not starting with '-'")
        }
        target.host = String(rest)
        return target
    }

    /// What the run's folders on a host are named before their random part (the cleanup script
    /// removes those of them that are this user's).
    var remoteRunPrefix: String { workdir + "/nixactions-" + configuration.runID + "-" }

    /// The job's folder on its host (the job's host and the run's folder there are known once
    /// the job has started).
    func remoteJob(_ jobKey: String) -> String {
        guard let target = jobs.withLock({ $0[jobKey] }) else { return remoteRunPrefix + "unknown/" + jobKey }
        return remoteJob(jobKey, on: target)
    }

    func remoteJob(_ jobKey: String, on target: Target) -> String {
        (remoteRuns.withLock { $0[target] } ?? remoteRunPrefix + "unknown") + "/" + jobKey
    }

    /// The command that makes the run's folder on a host where it has none yet: the workdir is
    /// made if missing and must be safe (`checkWorkdir`); `mktemp -d` makes the folder, private,
    /// under a name no one could know, and it is printed.
    static func makeNewRunFolder(workdir: String, prefix: String) -> String {
        let check = checkWorkdir(workdir)
        return "umask 022; mkdir -p \(ShellWords.quote(workdir)) && \(check) && r=$(mktemp -d \(ShellWords.quote(prefix + "XXXXXXXX"))) "
            + "&& chmod 700 \"$r\" && printf 'NXA-RUN %s\\n' \"$r\""
    }

    /// Commands that make the run's folder on the host private, as the local executor's is: mode
    /// 700, a folder (not a link) owned by the user. Everything of the run is inside it (the
    /// workspace, `$RUNNER_TEMP`, the `$GITHUB_*` files a step may write secrets to), and steps
    /// run under `umask 022`, so this folder is what keeps other users of the host out. The
    /// workdir itself is made if missing (as `mkdir -p` made it before), and must be safe
    /// (`checkWorkdir`); a run folder that is already there and not the user's (another user made
    /// it first in a shared `/tmp`) is refused.
    static func makeRunFolder(workdir: String, run: String) -> String {
        // Known to be this run's (made by `makeNewRunFolder`); checked again, as its workdir is.
        // Never made again by its name, which every ssh command line showed in `ps` there: gone
        // (a lost job's `lost.sh` removed it once empty), or no longer this user's folder, the
        // job asks for a new one (review 64 L3: another user could take the known name first and
        // fail the host's later jobs).
        let check = checkWorkdir(workdir)
        let (workdir, run) = (ShellWords.quote(workdir), ShellWords.quote(run))
        return "umask 022; mkdir -p \(workdir) && \(check) && { [ -d \(run) ] && [ ! -h \(run) ] && [ -O \(run) ] && chmod 700 \(run) "
            + "|| { echo \(runGoneMarker); exit \(runGoneStatus); }; }"
    }

    /// What `makeRunFolder` prints, with its exit status, when the run's folder is gone.
    static let runGoneMarker = "NXA-RUN-GONE"
    static let runGoneStatus: Int32 = 79

    /// A remote shell command that fails, saying why, unless no other user can rename or replace
    /// any folder on the way to the run's folder: the workdir as given (made absolute from the
    /// remote home) and as resolved, and every folder above each, must be owned by root or the
    /// user, and a folder others can write must be sticky (`/tmp`). The run's folder is used by
    /// path for the whole run (steps' scripts, pid files, the final `rm -rf`): in a workdir another
    /// user made first, they could swap it for a link to their own tree.
    static func checkWorkdir(_ workdir: String) -> String {
        let fail = { (why: String) in "{ echo \"nixactions: workdir folder $d \(why)\" >&2; return 1; }" }
        let walk = "nxa_safe() { d=$1; u=$(id -u); while :; do set -- $(ls -ldn -- \"$d\" 2>/dev/null); "
            + "[ -n \"$1\" ] || \(fail("cannot be inspected")); "
            + "case $3 in 0|\"$u\") ;; *) \(fail("is owned by another user (uid $3), so they can replace what is in it")) ;; esac; "
            + "case $1 in l*|?????????[tT]*) ;; ?????w????*|????????w?*) \(fail("is writable by other users and not sticky")) ;; esac; "
            + "[ \"$d\" = / ] && return 0; d=$(dirname -- \"$d\"); done; }"
        let path = "w=\(ShellWords.quote(workdir)); case $w in /*) ;; *) w=$PWD/$w ;; esac"
        return "{ \(walk); \(path); nxa_safe \"$w\" && nxa_safe \"$(cd -- \"$w\" && pwd -P)\"; }"
    }

    /// `ssh` with this executor's options for `target`; `multiplexed: false` for the cleanup
    /// script, which must not leave a connection behind.
    func sshArguments(_ target: Target, multiplexed: Bool = true, socketFolder: String? = nil) -> [String] {
        var arguments = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "ServerAliveInterval=15"]
        if multiplexed {
            arguments += ["-o", "ControlMaster=auto", "-o", "ControlPath=\(socketFolder ?? sockets.path)/%C", "-o", "ControlPersist=600"]
        } else {
            arguments += ["-o", "ControlMaster=no", "-o", "ControlPath=none"]
        }
        if let port = target.port { arguments += ["-p", String(port)] }
        if let identityFile { arguments += ["-i", identityFile, "-o", "IdentitiesOnly=yes"] }
        if let knownHosts { arguments += ["-o", "UserKnownHostsFile=\(knownHosts)", "-o", "StrictHostKeyChecking=yes"] }
        arguments += extraOptions
        // `--`: whatever the destination is, ssh reads no option from it.
        arguments += ["--", (target.user.map { "\($0)@" } ?? "") + target.host]
        return arguments
    }

    /// Every process an ssh client of this run starts carries the run's tracking id, so a host that
    /// dies takes the connections' masters (`ControlPersist` daemons) with it.
    ///
    /// The clients get this machine's environment (the user's own ssh configuration may need it: a
    /// ProxyCommand's proxy or cloud variables, `${VAR}` in its paths) less what ssh's
    /// configuration would send to the host (`sentPatterns`): Debian's `ssh_config` sends `LANG` and
    /// `LC_*` and its sshd takes them, so a secret in such a variable reached every remote step
    /// (audit 66 remote L4); steps get what the workflow gives them, as in a container.
    var environment: [String: String] { clientEnvironment.withLock { $0 } }

    /// Whether the run's master connection to `target` is up (`ssh -O check`, at most 2 s; run
    /// whether or not the caller is cancelled).
    func hasMaster(_ target: Target) async -> Bool {
        let environment = self.environment
        let arguments = sshArguments(target)
        let check = arguments.dropLast(2) + ["-O", "check"] + arguments.suffix(2)
        // A stalled master would hold the check: 2 s, then SIGKILL (not up, then).
        return await Task.detached {
            (try? await CapturedCommand.run(Array(check), environment: environment, limit: .seconds(2), grace: .zero))?.status == 0
        }.value
    }

    /// Mark `target` as one the run may have left something on, or not (ssh could not connect),
    /// and write the cleanup script again.
    func touch(_ target: Target, _ used: Bool) throws {
        if !used, reachedHosts.withLock({ $0.contains(target) }) { return }
        try touched.withLock { touched in
            guard used ? touched.insert(target).inserted : touched.remove(target) != nil else { return }
            try writeCleanupScript(hosts: targets.filter(touched.contains))
        }
    }

    /// `RUN/cleanup/ssh-….sh`: on each of `hosts`, end what the run's jobs left running and remove
    /// the run's remote folder; then stop the connections. Written again as hosts are used, the
    /// file replaced whole, so a host killed meanwhile leaves a complete one.
    func writeCleanupScript(hosts: [Target] = []) throws {
        let folder = configuration.runDirectory + "/cleanup"
        if mkdir(folder, 0o700) != 0 && errno != EEXIST {
            throw OperationFailure(message: "ssh executor: cannot create \(folder): \(String(cString: strerror(errno)))")
        }
        // Every run folder of this run there that is this user's own (made by `mktemp`: a name
        // another user made is not), whether or not its name reached this process.
        let remote = "for d in \(ShellWords.quote(remoteRunPrefix))*; do [ -d \"$d\" ] && [ ! -h \"$d\" ] && [ -O \"$d\" ] || continue; "
            + Self.killGroups(in: "\"$d\"/*/control") + "; rm -rf \"$d\"; done; " + Self.killMarked(remoteMark(nil), whole: false)
        // `-O exit` asks the master over its socket: a hung master (stopped, its host gone) never
        // answers, so it is given 5 s, where `timeout` is at hand (audit 56 F3: the script was
        // ended at its 30 s limit there, before the lines that remove the master and its folder).
        // The direct connection that ends the run there has 10 s (ssh's ConnectTimeout bounds only
        // the connect, not a host that then says nothing: audit 60 hangs M2, the script ran to its 30 s).
        var lines = ["# Written by the ssh executor: end run \(configuration.runID) on its hosts.",
                     "bound=; reach=; command -v timeout >/dev/null 2>&1 && bound='timeout -s KILL 5' && reach='timeout -s KILL 10'"]
        for target in hosts {
            let direct = sshArguments(target, multiplexed: false).map(ShellWords.quote).joined(separator: " ")
            lines.append("$reach \(direct) \(ShellWords.quote(remote)) </dev/null >/dev/null 2>&1")
            // `ssh … -O exit -- DESTINATION`: the control command before the `--` that ends the options.
            let arguments = sshArguments(target)
            let stop = (arguments.dropLast(2) + ["-O", "exit"] + arguments.suffix(2)).map(ShellWords.quote).joined(separator: " ")
            lines.append("$bound \(stop) </dev/null >/dev/null 2>&1")
        }
        // A master that `-O exit` did not stop (it names itself `ssh: SOCKETS/HASH [mux]`; a
        // stopped one only goes with SIGKILL), then the connections' socket folder (the instance
        // is never destroyed before the run ends). The master gone, its clients end too.
        lines.append("pkill -KILL -f \(ShellWords.quote("ssh: " + sockets.path + "/")) 2>/dev/null")
        lines.append("rm -rf \(ShellWords.quote(sockets.path))")
        lines.append("true\n")
        let path = folder + "/ssh-\(getpid())-\(ObjectIdentifier(self).hashValue & 0xffffff).sh"
        if let error = FastFiles.write(lines.joined(separator: "\n"), to: path + ".new") ?? (rename(path + ".new", path) == 0 ? nil : errno) {
            throw OperationFailure(message: "ssh executor: cannot write its cleanup script: \(String(cString: strerror(error)))")
        }
    }

    /// A remote shell command: SIGKILL to every process group recorded in `folder`'s step pid files
    /// (what a step left running in the background goes with its job). A file holds the group
    /// leader's pid and start time (`/proc/PID/stat` field 22): a pid now used by another process
    /// (a different start time) is left alone; a leader that has exited leaves its group's id
    /// reserved while any member lives, so its group is still the step's.
    static func killGroups(in folder: String, signal: String = "KILL") -> String {
        "for f in \(folder)/step-*.pid; do [ -f \"$f\" ] || continue; read -r pid start < \"$f\"; [ -n \"$pid\" ] || continue; "
            + "if [ -n \"$start\" ] && [ -r /proc/$pid/stat ]; then read -r s < /proc/$pid/stat; set -- $s; [ \"${22}\" = \"$start\" ] || continue; fi; "
            + "kill -\(signal) -\"$pid\" 2>/dev/null; done; true"
    }

    /// The mark (`NIXACTIONS_TRACKING_ID`) of a job's processes on its host; with nil, what the
    /// marks of all the run's jobs begin with.
    func remoteMark(_ jobKey: String?) -> String {
        (configuration.trackingID ?? configuration.runID) + "-ssh-job-" + (jobKey ?? "")
    }

    /// A remote shell command: SIGKILL to every process of the user whose environment holds
    /// `NIXACTIONS_TRACKING_ID=MARK` (`whole`), or a value beginning with it: what a step started
    /// that left its process group (`setsid`) and so escaped `killGroups`. Linux hosts (`/proc`)
    /// with GNU grep; elsewhere it does nothing.
    static func killMarked(_ mark: String, whole: Bool) -> String {
        let line = ShellWords.quote(JobContainment.trackingVariable + "=" + mark)
        return "for f in $(grep -lz\(whole ? "x" : "")F -e \(line) /proc/[0-9]*/environ 2>/dev/null); do p=${f#/proc/}; "
            + "[ \"${p%/environ}\" != \"$$\" ] && kill -KILL \"${p%/environ}\" 2>/dev/null; done; true"
    }

    /// Make the run's folder on `target` if the run has none there, then the job's folders in
    /// it; what `uname -sm` says, or the failed command.
    func reach(_ target: Target, job jobKey: String) async throws -> CapturedCommand {
        let reached = try await reachOnce(target, job: jobKey)
        guard reached.status == Self.runGoneStatus, reached.outputText.contains(Self.runGoneMarker) else { return reached }
        // The run's folder there is gone: a new one, by a name nobody has seen.
        remoteRuns.withLock { $0[target] = nil }
        return try await reachOnce(target, job: jobKey)
    }

    private func reachOnce(_ target: Target, job jobKey: String) async throws -> CapturedCommand {
        if remoteRuns.withLock({ $0[target] }) == nil {
            let made = try await capture(sshArguments(target) + [Self.makeNewRunFolder(workdir: workdir, prefix: remoteRunPrefix)])
            guard made.status == 0 else { return made }
            let line = made.outputText.split(whereSeparator: \.isNewline).last { $0.hasPrefix("NXA-RUN ") }
            guard let path = line.map({ String($0.dropFirst(8)) }), path.hasPrefix(remoteRunPrefix), path.utf8.count == remoteRunPrefix.utf8.count + 8 else {
                var failed = made
                failed.status = 1
                failed.errorText = "nixactions: mktemp on the host gave no run folder (it said: \(made.outputText.prefix(200)))"
                return failed
            }
            remoteRuns.withLock { $0[target] = path }
        }
        let run = remoteRuns.withLock { $0[target] } ?? ""
        let directory = remoteJob(jobKey, on: target)
        let made = Self.makeRunFolder(workdir: workdir, run: run)
            + " && mkdir -p \(ShellWords.quote(directory))/workspace \(ShellWords.quote(directory))/tmp "
            + "&& mkdir -m 700 -p \(ShellWords.quote(directory))/control "
            + "&& printf '%s' \(ShellWords.quote(SSHSession.helperScript)) > \(ShellWords.quote(directory + "/control/helper.sh")) "
            + "&& printf '%s\\n' \(ShellWords.quote(jobCleanup(jobKey, on: target) + "; rmdir " + ShellWords.quote(run) + " 2>/dev/null; true")) "
            + "> \(ShellWords.quote(directory + "/control/lost.sh")) "
            + "&& uname -sm"
        return try await capture(sshArguments(target) + [made])
    }

    func startJob(_ job: JobSpec, context: OperationContext) async throws -> JobStarted {
        let (target, system) = try await pool.acquire(job: job.jobKey, context: context, retries: configuration.startRetries == true) { target in
            // Reaching the host opens its shared connection; `uname` tells what it runs. The first
            // job there makes the run's folder (one command more, over that connection).
            try self.touch(target, true)
            let attempt: Result<CapturedCommand, any Error>
            do {
                attempt = .success(try await self.reach(target, job: job.jobKey))
            } catch { attempt = .failure(error) }
            if Task.isCancelled {
                // Cancelled while connecting (a host that takes the connection and says nothing;
                // ssh, ended by the cancel, returns or throws): without a master connection nothing
                // ran there, and the run's cleanup need not wait on that host again (audit 60 hangs M2).
                if await !self.hasMaster(target) { try? self.touch(target, false) }
                if case .failure(let error) = attempt { throw error }
                throw CancellationError()
            }
            let reached = try attempt.get()
            if reached.status == 255 { try self.touch(target, false) }  // ssh never connected: nothing ran there
            if reached.status == 0 { _ = self.reachedHosts.withLock { $0.insert(target) } }
            return reached
        }
        jobs.withLock { $0[job.jobKey] = target }
        let directory = remoteJob(job.jobKey)
        if job.copyProject {
            try await copyProject(job, to: target, directory: directory + "/workspace")
        }
        // The job's session: one ssh command for all its steps.
        let session = try SSHSession()
        sessions.withLock { $0[job.jobKey] = session }
        // `exec`: the helper's parent is then the session's own process, whose end it watches.
        try await session.start(arguments: sshArguments(target) + ["exec sh \(ShellWords.quote(directory + "/control/helper.sh"))"],
                                environment: environment)
        let parts = system.split(separator: " ")
        let os = parts.first.map(String.init) ?? "Linux"
        let arch = parts.count > 1 ? JobStarted.runnerArch(machine: String(parts[1])) : nil
        return JobStarted(workspace: directory + "/workspace", temporaryDirectory: directory + "/tmp", os: os, arch: arch)
    }

    /// The project as a tar stream into the remote workspace (GNU or busybox tar on both sides).
    func copyProject(_ job: JobSpec, to target: Target, directory: String) async throws {
        // The run's checkout of the project when the host made one (`.git` and all), else the project.
        let project = job.copySource ?? configuration.projectDirectory
        var excludes = job.copySource == nil ? job.copyExcludes.map { "--exclude=\($0)" } : []
        for skipped in [configuration.runDirectory] + (job.copySkipPaths ?? []) where skipped.hasPrefix(project + "/") {
            excludes.append("--exclude=./" + skipped.dropFirst(project.count + 1))
        }
        let local = (["tar", "-C", project] + excludes + ["-cf", "-", "."]).map(ShellWords.quote).joined(separator: " ")
        let remote = (sshArguments(target) + ["tar -C \(ShellWords.quote(directory)) -xf -"]).map(ShellWords.quote).joined(separator: " ")
        let copied = try await capture(["/bin/bash", "-o", "pipefail", "-c", "\(local) | \(remote)"])
        guard copied.status == 0 else {
            throw OperationFailure(message: "cannot copy the project to \(target.name) for job '\(job.displayName)': \(copied.errorText)",
                                   hint: "the remote host needs tar; or set workspace: { copy-project: false }")
        }
    }

    func runStep(_ step: StepSpec, context: OperationContext) async throws -> StepResult {
        guard let target = jobs.withLock({ $0[step.jobKey] }) else {
            throw OperationFailure(message: "ssh executor: job '\(step.jobKey)' has no host")
        }
        let directory = remoteJob(step.jobKey)
        let workspace = directory + "/workspace", temporary = directory + "/tmp", control = directory + "/control"
        let number = serial.add(1, ordering: .relaxed).newValue
        let script = control + "/step-\(number)" + step.scriptExtension
        var environment = step.environment
        var captures: [String: String] = [:]
        for file in step.captureFiles {
            let path = step.capturePaths?[file] ?? temporary + "/step-\(number)-" + file.lowercased()
            captures[file] = path
            environment[file] = path
        }
        for (alias, file) in step.captureAliases ?? [:] { environment[alias] = captures[file] }
        // Every process of the step carries the job's mark, also one that leaves its process group
        // (`setsid`): the job's end kills what carries it (`killMarked`).
        environment[JobContainment.trackingVariable] = remoteMark(step.jobKey)
        var workingDirectory = workspace
        if let relative = step.workingDirectory, !relative.isEmpty {
            workingDirectory = relative.hasPrefix("/") ? relative : workspace + "/" + relative
        }
        // The step goes to the job's session (SSHSession): its script travels inside the wrapper
        // (printf, a shell builtin: no process), the $GITHUB_* files come back after its output.
        let key = "NIXACTIONS_" + (0..<4).map { _ in String(UInt32.random(in: 0...UInt32.max), radix: 16) }.joined()
        // In the job's private folder, not in $RUNNER_TEMP, which a step may empty (audit 67 remote
        // N4: a step that did could not be cancelled).
        let pidFile = control + "/step-\(number).pid"
        // The capture files exist, empty, when the step starts (as on GitHub).
        let preamble = ["umask 077", StepWrapper.writeScript(step.script, to: script)]
            + StepWrapper.createEmpty(captures.values.sorted()) + ["umask 022"]
        let trailer = StepTrailer.lines(key: key, captures: captures.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, end: false)
        let wrapper = StepWrapper.render(shell: step.shell, script: script, environment: environment, pathPrepend: step.pathPrepend,
                                         pidFile: pidFile, directory: workingDirectory, preamble: preamble, trailer: trailer,
                                         recordStartTime: true)
        guard let session = sessions.withLock({ $0[step.jobKey] }) else {
            throw OperationFailure(message: "ssh executor: job '\(step.jobKey)' has no session")
        }
        let killer = GroupSignaller(prefix: sshArguments(target), pidFile: pidFile, grace: grace, environment: self.environment, loginShell: true)
        let outcome = await session.run(number, wrapper: wrapper, key: key, abandonAfter: grace + .seconds(5), onCancel: { killer.start() }) {
            stream, bytes in bytes.withUnsafeBytes { context.write($0, to: stream == 2 ? .stderr : .stdout) }
        }
        switch outcome {
        case .finished(let status, let files):
            // A cancelled step is over once its whole group is (or was killed after the grace):
            // the job's next step must not run beside what is left of it (audit 66 remote M1).
            await killer.waitEnded(limit: grace + .seconds(5))
            // What its members printed in their grace went to this step; from here on, to the next.
            session.endDrain()
            // Ended by the host's cancel (a time limit, the run's): what the step wrote still goes
            // back, marked, when the host asks for it (the wrapper's trailer outlives the SIGTERM).
            guard Task.isCancelled else { return StepResult(exitCode: status, files: files) }
            guard step.filesWhenCancelled == true else { throw CancellationError() }
            return StepResult(exitCode: status, files: files, cancelled: true)
        case .lost(let why):
            try Task.checkCancellation()
            throw OperationFailure(message: "the connection to \(target.name) was lost: \(why)",
                                   hint: "check the host and the network; ssh's own message, if any, is in the step's output")
        case .abandoned:
            // Also when cancelled: the host must not say the step's processes ended (audit 56 F8).
            throw OperationFailure(message: "the step did not end within \((grace + .seconds(5)).components.seconds)s of its cancel; "
                                   + "its processes are ended when the job finishes")
        }
    }

    /// The remote command that ends what a job's steps left running, then removes its folder:
    /// run by `finishJob`, and by the helper's watcher there when the job's session is lost
    /// (`control/lost.sh`, which also removes the run's folder once it is empty).
    func jobCleanup(_ jobKey: String, on target: Target) -> String {
        let directory = ShellWords.quote(remoteJob(jobKey, on: target))
        return Self.killGroups(in: directory + "/control") + "; " + Self.killMarked(remoteMark(jobKey), whole: true) + "; rm -rf \(directory)"
    }

    /// How long the job's cleanup may wait on its host, over the job's connection and then over a
    /// new one: a connection that stopped answering (its host or sshd stalled) held the cleanup for
    /// ssh's keep-alive, 45 s, without a word (audit 60 hangs M3).
    static let cleanupSeconds = 15

    func finishJob(_ job: JobSpec, context: OperationContext) async throws {
        guard let target = jobs.withLock({ $0.removeValue(forKey: job.jobKey) }) else { return }
        defer { pool.release(target) }
        let limit: Duration = .seconds(Self.cleanupSeconds)
        var finished = try? await capture(sshArguments(target) + [jobCleanup(job.jobKey, on: target)], limit: limit)
        if let stalled = finished, stalled.expired {
            // The job's connection does not answer: a connection of its own may (sshd still takes them).
            finished = try? await capture(sshArguments(target, multiplexed: false) + [jobCleanup(job.jobKey, on: target)], limit: limit)
            if let again = finished, again.expired {
                finished?.errorText = "the host did not answer within \(Self.cleanupSeconds) s, twice (the job's connection, then a new one); "
                    + "the run's cleanup tries the host again when the run ends"
            }
        }
        if let finished, finished.status != 0 {
            context.log(.warning, "could not clean up job '\(job.displayName)' on \(target.name): \(finished.errorText)")
        }
        // The helper ends at the end of its input; what held its output open is gone.
        if let session = sessions.withLock({ $0.removeValue(forKey: job.jobKey) }) { await session.close(wait: .seconds(5)) }
    }

    func capture(_ arguments: [String], limit: Duration? = nil) async throws -> CapturedCommand {
        do {
            return try await CapturedCommand.run(arguments, environment: environment, limit: limit)
        } catch {
            throw OperationFailure(message: "cannot run \(arguments.first ?? "ssh"): \(String(cString: strerror(error.errno)))")
        }
    }
}

/// The hosts of a pool: a job takes a free one, waiting while all are busy; a host that cannot be
/// reached is left out for the rest of the run, with a warning, and the job goes elsewhere.
final class HostPool: Sendable {
    struct State {
        var busy: Set<SSHExecutor.Target> = []
        var unreachable: [SSHExecutor.Target: String] = [:]
    }

    let targets: [SSHExecutor.Target]
    let state = Mutex(State())

    init(_ targets: [SSHExecutor.Target]) {
        self.targets = targets
    }

    /// A free, reachable host and what `reach` printed on it.
    func acquire(
        job: String, context: OperationContext, retries: Bool, reach: (SSHExecutor.Target) async throws -> CapturedCommand
    ) async throws -> (SSHExecutor.Target, String) {
        while true {
            try Task.checkCancellation()
            let free = state.withLock { state -> SSHExecutor.Target? in
                guard let target = targets.first(where: { !state.busy.contains($0) && state.unreachable[$0] == nil }) else { return nil }
                state.busy.insert(target)
                return target
            }
            if let target = free {
                let reached: CapturedCommand
                do {
                    reached = try await reach(target)
                } catch {
                    release(target)
                    throw error
                }
                if reached.status == 0 { return (target, reached.outputText.trimmingCharacters(in: .whitespacesAndNewlines)) }
                // ssh writes the host name in lower case ("Could not resolve hostname …"): put
                // it back as given, so that a host that came from a secret is masked there too.
                // ssh ends its lines with CR LF: one line, "; " between.
                let why = reached.errorText.replacingOccurrences(of: target.host, with: target.host, options: .caseInsensitive)
                    .split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                    .joined(separator: "; ")
                state.withLock { state in
                    state.busy.remove(target)
                    state.unreachable[target] = why
                }
                if targets.count > 1 {
                    context.log(.warning, "host \(target.name) cannot be reached (\(why)); job '\(job)' goes to another host")
                }
                continue
            }
            let (allDown, reasons) = state.withLock { state in
                (targets.allSatisfy { state.unreachable[$0] != nil }, targets.map { "\($0.name): \(state.unreachable[$0] ?? "")" })
            }
            if allDown {
                // Reached, but the run's folder could not be made safely there (`checkWorkdir`).
                if reasons.allSatisfy({ $0.contains("nixactions: ") }) {
                    throw OperationFailure(
                        message: "cannot use the workdir on \(targets.count == 1 ? reasons[0] : reasons.joined(separator: "; "))",
                        hint: "choose a workdir that only you (or root) can change on the host, or make it one (chmod go-w; a shared folder like /tmp must be sticky: chmod +t)")
                }
                throw OperationFailure(
                    message: targets.count == 1 ? "cannot reach \(reasons[0])" : "no host of the pool can be reached (\(reasons.joined(separator: "; ")))",
                    hint: "check the host names, keys (identity-file, known-hosts) and that sshd runs; 'ssh -v HOST true' shows why")
            }
            // Every reachable host is busy: a host that asks again later (`startRetries`) is
            // told so, and the job waits without the start's deadline (a job waiting for a host
            // is queued, not starting: audit 60 hangs H2); an older host gets the wait in here.
            if retries {
                throw OperationFailure(message: "every host of the pool is busy (\(targets.count) host\(targets.count == 1 ? "" : "s"))",
                                       retryAfterSeconds: 0.05)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    func release(_ target: SSHExecutor.Target) {
        _ = state.withLock { $0.busy.remove(target) }
    }
}
