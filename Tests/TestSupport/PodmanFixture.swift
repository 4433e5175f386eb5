import Foundation
import Synchronization

/// A real podman (with runc) for the oci executor's tests, with its own storage and settings, and
/// a small image made locally (no registry is reachable): busybox from Debian's
/// `busybox-static`, its applets linked, imported as `localhost/nixactions/busybox` (the image `examples/10-containers/build-image.sh` makes).
///
/// The storage lives in `~/.cache/nixactions-ci/podman` (kept between runs, like the tools' venv),
/// never in the machine's own podman storage. Tests pass `environment` to every nixactions they
/// start, so the executor, its cleanup scripts and the supervisor all use this storage.
public enum PodmanFixture {
    public static let image = "localhost/nixactions/busybox:latest"

    public struct Ready: Sendable {
        public let podman: String
        /// `CONTAINERS_CONF` and `CONTAINERS_STORAGE_CONF` for this storage.
        public let environment: [String: String]

        /// Run podman with this storage.
        public func podman(_ arguments: [String]) throws -> CommandResult {
            try runCommandBlocking(URL(fileURLWithPath: podman), arguments, environment: environment)
        }

        /// The test image with `USER user` in its configuration and `passwd`/`group` lines added
        /// to its /etc files (made once, kept in the storage like the image).
        public func image(user: String, passwd: [String] = [], group: [String] = []) throws -> String {
            let name = "localhost/nixactions/busybox-user-" + user.map { $0.isLetter || $0.isNumber ? String($0) : "-" }.joined() + ":latest"
            if try podman(["image", "exists", name]).status == 0 { return name }
            let builder = "nixactions-image-builder-\(getpid())"
            var script = "mkdir -p /etc"
            for line in ["root:x:0:0::/root:/bin/sh"] + passwd { script += " && echo '\(line)' >> /etc/passwd" }
            for line in ["root:x:0:"] + group { script += " && echo '\(line)' >> /etc/group" }
            let made = try podman(["run", "--name", builder, "--network", "none", PodmanFixture.image, "sh", "-c", script])
            defer { _ = try? podman(["rm", "-f", builder]) }
            guard made.status == 0 else { throw TestComponentError("cannot prepare an image with user \(user): \(made.stderr)") }
            let committed = try podman(["commit", "-q", "--change", "USER=\(user)", builder, name])
            guard committed.status == 0 else { throw TestComponentError("podman commit failed: \(committed.stderr)") }
            return name
        }

        /// Names of the containers (running or not) carrying `label`.
        /// The containers of runs. The files-interface tests of PluginHostTests (run ids `files…`)
        /// run beside the serialized suites that check this, so theirs are left out; `.ci/leftovers`
        /// checks for every run's containers after the whole suite.
        public func containers(label: String = "io.nixactions.run") throws -> [String] {
            let result = try podman(["ps", "-a", "--filter", "label=\(label)", "--format", "{{.Names}}"])
            return result.stdout.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("nixactions-files") }
        }

        /// The runs' containers once there are at least `count` (or after `limit`).
        public func containers(atLeast count: Int, within limit: Duration = .seconds(30)) async throws -> [String] {
            let clock = ContinuousClock(), deadline = clock.now + limit
            var found = try containers()
            while found.count < count && clock.now < deadline {
                try? await Task.sleep(for: .milliseconds(100))
                found = try containers()
            }
            return found
        }

        /// The runs' containers once there are none left (or after `limit`: those left).
        public func containersGone(within limit: Duration = .seconds(15)) async throws -> [String] {
            let clock = ContinuousClock(), deadline = clock.now + limit
            var left = try containers()
            while !left.isEmpty && clock.now < deadline {
                try? await Task.sleep(for: .milliseconds(100))
                left = try containers()
            }
            return left
        }
    }

    private static let prepared = Mutex<Result<Ready, TestComponentError>?>(nil)

    /// Podman with the test image, made once per test process.
    public static func ready() throws -> Ready {
        try prepared.withLock { cached in
            if let cached { return try cached.get() }
            let result = Result { () throws(TestComponentError) -> Ready in try prepare() }
            cached = result
            return try result.get()
        }
    }

    private static func prepare() throws(TestComponentError) -> Ready {
        guard let podman = testTool("podman") else {
            throw TestComponentError("podman is not installed (.ci/setup installs podman, runc and busybox-static)")
        }
        guard let busybox = ["/usr/bin/busybox", "/bin/busybox"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw TestComponentError("busybox is not installed (apt-get install busybox-static)")
        }
        let home = ProcessInfo.processInfo.environment["HOME"] ?? "/root"
        let root = home + "/.cache/nixactions-ci/podman"
        do {
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            // runc: crun fails on this kernel's hybrid cgroups. Root here lacks CAP_SYS_RESOURCE, so
            // podman's default ulimits fail. Events to a file, not journald.
            try """
                [containers]
                default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
                [engine]
                runtime = "runc"
                events_logger = "file"
                cgroup_manager = "cgroupfs"
                """.write(toFile: root + "/containers.conf", atomically: true, encoding: .utf8)
            try """
                [storage]
                driver = "vfs"
                graphroot = "\(root)/storage"
                runroot = "\(root)/run"
                """.write(toFile: root + "/storage.conf", atomically: true, encoding: .utf8)
        } catch {
            throw TestComponentError("cannot write podman's settings in \(root): \(error)")
        }
        let ready = Ready(podman: podman, environment: [
            "CONTAINERS_CONF": root + "/containers.conf", "CONTAINERS_STORAGE_CONF": root + "/storage.conf",
        ])
        do {
            if try ready.podman(["image", "exists", image]).status == 0 { return ready }
            // A root file system of busybox and its applet links, imported as an image.
            let rootfs = root + "/rootfs"
            try? FileManager.default.removeItem(atPath: rootfs)
            try FileManager.default.createDirectory(atPath: rootfs + "/bin", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: rootfs + "/tmp", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: busybox, toPath: rootfs + "/bin/busybox")
            let applets = try runCommandBlocking(URL(fileURLWithPath: busybox), ["--list"]).stdout.split(separator: "\n")
            for applet in applets where applet != "busybox" {
                try? FileManager.default.createSymbolicLink(atPath: rootfs + "/bin/" + applet, withDestinationPath: "busybox")
            }
            let archive = root + "/rootfs.tar"
            let tar = try runCommandBlocking(URL(fileURLWithPath: "/bin/tar"), ["-C", rootfs, "-cf", archive, "."])
            guard tar.status == 0 else { throw TestComponentError("tar failed: \(tar.stderr)") }
            let imported = try ready.podman(["import", "--change", "ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                                             "--change", "CMD [\"sh\"]", archive, image])
            try? FileManager.default.removeItem(atPath: rootfs)
            try? FileManager.default.removeItem(atPath: archive)
            guard imported.status == 0 else { throw TestComponentError("podman import failed: \(imported.stderr)") }
            return ready
        } catch let error as TestComponentError {
            throw error
        } catch {
            throw TestComponentError("cannot prepare the podman test image: \(error)")
        }
    }
}
