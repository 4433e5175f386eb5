import Foundation

/// A real OpenSSH server for the ssh executor's tests: `sshd` (Debian's openssh-server) on
/// 127.0.0.1, or on an address inside a network namespace the test creates (`ip netns`, a veth
/// pair), with its own host key, a client key allowed to log in as the current user, and a
/// `known_hosts` that names it. `stop()` kills it and removes the namespace.
public final class SSHServer: @unchecked Sendable {
    public let folder: TemporaryDirectory
    public let address: String
    public let port: Int
    /// The client's private key and the `known_hosts` file to pass as `identity-file` and `known-hosts`.
    public let identityFile: String
    public let knownHosts: String
    public let namespace: String?
    private var outsideLink: String?
    private let process: LaunchedProcess

    /// The server's process (in `smallFolder`'s mount namespace, when there is one).
    public var processIdentifier: pid_t { process.processIdentifier }

    /// `host:port` as the executor's `hosts:` takes it.
    public var hostEntry: String { "\(address):\(port)" }

    private static func tool(_ name: String) throws -> String {
        for folder in ["/usr/sbin", "/usr/bin", "/sbin", "/bin"] where FileManager.default.isExecutableFile(atPath: "\(folder)/\(name)") {
            return "\(folder)/\(name)"
        }
        throw TestComponentError("\(name) is not installed (.ci/setup installs openssh-server and iproute2)")
    }

    /// A folder that is, for the server and its sessions only, a file system of `smallFolderKiB`
    /// (a tmpfs in a mount namespace of the server's own): a host whose workdir fills up. Nil without it.
    public let smallFolder: String?

    /// - Parameter namespace: a name for a new network namespace to start it in (with `index` and
    ///   this process's pid choosing its /30: `.1` here, `.2` there); nil for 127.0.0.1.
    /// - Parameter smallFolderKiB: the size of `smallFolder`, nil for none.
    public init(namespace: String? = nil, index: Int = 1, smallFolderKiB: Int? = nil) throws {
        let sshd = try Self.tool("sshd"), keygen = try Self.tool("ssh-keygen")
        folder = try TemporaryDirectory()
        let path = folder.path
        for key in ["host", "user"] {
            let made = try runCommandBlocking(URL(fileURLWithPath: keygen), ["-q", "-t", "ed25519", "-N", "", "-f", "\(path)/\(key)_key"])
            guard made.status == 0 else { throw TestComponentError("ssh-keygen failed: \(made.stderr)") }
        }
        try FileManager.default.copyItem(atPath: "\(path)/user_key.pub", toPath: "\(path)/authorized_keys")
        try? FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])

        if let namespace {
            let ip = try Self.tool("ip")
            // Names and a /30 of this process's own, so that leftovers of another test process
            // (a killed one) cannot be in the way.
            let outside = "nxa\(index)o\(getpid() % 10000)", inside = "nxa\(index)i\(getpid() % 10000)"
            let subnet = "10.\(200 + index % 50).\(getpid() % 250)"
            let commands: [[String]] = [
                ["netns", "add", namespace],
                ["link", "add", outside, "type", "veth", "peer", "name", inside],
                ["link", "set", inside, "netns", namespace],
                ["addr", "add", "\(subnet).1/30", "dev", outside],
                ["link", "set", outside, "up"],
                ["netns", "exec", namespace, ip, "addr", "add", "\(subnet).2/30", "dev", inside],
                ["netns", "exec", namespace, ip, "link", "set", inside, "up"],
                ["netns", "exec", namespace, ip, "link", "set", "lo", "up"],
            ]
            for command in commands {
                let result = try runCommandBlocking(URL(fileURLWithPath: ip), command)
                guard result.status == 0 else {
                    _ = try? runCommandBlocking(URL(fileURLWithPath: ip), ["link", "del", outside])
                    _ = try? runCommandBlocking(URL(fileURLWithPath: ip), ["netns", "del", namespace])
                    throw TestComponentError("ip \(command.joined(separator: " ")) failed: \(result.stderr)")
                }
            }
            self.namespace = namespace
            outsideLink = outside
            address = "\(subnet).2"
            port = 22
        } else {
            self.namespace = nil
            address = "127.0.0.1"
            guard let free = (0..<200).lazy.map({ _ in UInt16.random(in: 20000...60000) }).first(where: isFreeLocalPort) else {
                throw TestComponentError("no free port on 127.0.0.1")
            }
            port = Int(free)
        }
        identityFile = "\(path)/user_key"
        knownHosts = "\(path)/known_hosts"
        let hostKey = try String(contentsOfFile: "\(path)/host_key.pub", encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
        try "[\(address)]:\(port) \(hostKey)\n\(address) \(hostKey)\n".write(toFile: knownHosts, atomically: true, encoding: .utf8)
        try """
            Port \(port)
            ListenAddress \(address)
            HostKey \(path)/host_key
            PidFile \(path)/sshd.pid
            AuthorizedKeysFile \(path)/authorized_keys
            StrictModes no
            UsePAM no
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            PermitRootLogin prohibit-password
            MaxSessions 50
            MaxStartups 50:30:100
            # As Debian's sshd_config has it (its ssh_config sends them: SendEnv LANG LC_*).
            AcceptEnv LANG LC_*
            # The sessions' HOME is this folder: root's own rc files (pyenv, cargo) cost every
            # command over ssh 0.2 s of CPU, which slowed the timing checks of other suites.
            SetEnv HOME=\(path)

            """.write(toFile: "\(path)/sshd_config", atomically: true, encoding: .utf8)
        var sshdArguments = [sshd, "-D", "-e", "-f", "\(path)/sshd_config"]
        if let size = smallFolderKiB {
            // unshare execs sh, which mounts and execs sshd: the pid stays the server's. The
            // mount goes with the namespace, when its last process ends.
            let small = "\(path)/small"
            try FileManager.default.createDirectory(atPath: small, withIntermediateDirectories: true)
            sshdArguments = [try Self.tool("unshare"), "--mount", "--propagation", "private", "/bin/sh", "-c",
                             "mount -t tmpfs -o size=\(size)k,mode=0755 nxa-small \"$0\" && exec \"$@\"", small] + sshdArguments
            smallFolder = small
        } else {
            smallFolder = nil
        }
        process = try LaunchedProcess(namespace.map { [try Self.tool("ip"), "netns", "exec", $0] + sshdArguments } ?? sshdArguments,
                                     output: "\(path)/sshd.log")
        // Ready when a client gets in.
        let ssh = try Self.tool("ssh")
        for _ in 0..<100 {
            let probe = try runCommandBlocking(URL(fileURLWithPath: ssh), ["-p", "\(port)", "-i", identityFile, "-o", "BatchMode=yes",
                                                                   "-o", "UserKnownHostsFile=\(knownHosts)", "-o", "StrictHostKeyChecking=yes",
                                                                   "-o", "ConnectTimeout=2", address, "true"])
            if probe.status == 0 { return }
            guard process.isRunning else { break }
            usleep(50_000)
        }
        stop()
        throw TestComponentError("sshd on \(address):\(port) did not accept a login")
    }

    public func stop() {
        if process.isRunning {
            process.signal(SIGTERM)
            process.wait()
        }
        if let namespace {
            // The sessions it started end with their connections; then the namespace and the link.
            _ = try? runCommandBlocking(URL(fileURLWithPath: "/usr/sbin/ip"), ["netns", "pids", namespace]).stdout
                .split(separator: "\n").compactMap { pid_t($0) }.map { kill($0, SIGKILL) }
            _ = try? runCommandBlocking(URL(fileURLWithPath: "/usr/sbin/ip"), ["netns", "del", namespace])
            if let outsideLink { _ = try? runCommandBlocking(URL(fileURLWithPath: "/usr/sbin/ip"), ["link", "del", outsideLink]) }
        }
        folder.remove()
    }

    /// Drop every connection (kill the server's per-connection processes), as a network that
    /// goes away would: the server goes on listening.
    public func dropConnections() {
        _ = try? runCommandBlocking(URL(fileURLWithPath: "/usr/bin/pkill"), ["-KILL", "-P", "\(process.processIdentifier)"])
    }

    /// Processes on this machine whose command line contains `text` (the servers share its kernel).
    public static func processes(matching text: String) -> [String] {
        let result = try? runCommandBlocking(URL(fileURLWithPath: "/usr/bin/pgrep"), ["-af", text])
        return (result?.stdout ?? "").split(separator: "\n").map(String.init).filter { !$0.contains("pgrep") }
    }
}

