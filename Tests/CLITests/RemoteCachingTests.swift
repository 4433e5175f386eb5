import Foundation
import Testing
import TestSupport

/// Caches and hashFiles on the remote executors: restored into a container's workspace and home
/// (oci), hashFiles through the files interface (ssh).
extension RealExecutorSuites.OCIExecutorTests {
    @Test("a cache saved by a local job restores into a container: its workspace and its home (~), the install skipped; a new lock file restores by the restore key")
    func caches() async throws {
        let podman = try await offThePool { try PodmanFixture.ready() }
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("lock.txt", "v1\n")
        // The same cache (paths and key) in a job on this machine and in a container job. Saving
        // from a container needs GNU tar in its image (as GitHub's actions/cache needs tar there);
        // the test image is busybox, whose tar is enough to restore.
        func workflow(_ placement: String) -> String {
            """
            name: cache-\(placement.hasPrefix("container") ? "oci" : "local")
            jobs:
              build:
                \(placement)
                cache:
                  paths: [deps, "~/.toolcache"]
                  key: oci-${{ hashFiles('lock.txt') }}
                  restore-keys: [oci-]
                steps:
                  - if: steps.cache.outputs.cache-hit != 'true'
                    run: |
                      echo installing
                      mkdir -p deps/lib ~/.toolcache && echo lib > deps/lib/a.txt && echo tool > ~/.toolcache/t && chmod 750 deps/lib/a.txt && chmod 700 ~/.toolcache
                  - run: echo "hit=${{ steps.cache.outputs.cache-hit }} $(cat deps/lib/a.txt) $(cat ~/.toolcache/t) $(stat -c %a deps/lib/a.txt) $(stat -c %a ~/.toolcache) home=$HOME"
            """
        }
        try temp.write("local.yml", workflow("executor: local"))
        try temp.write("oci.yml", workflow("container: \(Self.container)"))
        let home = temp.path + "/home"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        let environment = ["XDG_CACHE_HOME": temp.path + "/xdg"]
        let first = try await run(temp, ["run", "local.yml", "--log-format", "plain"], podman, extra: environment.merging(["HOME": home]) { _, new in new })
        #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
        #expect(first.stdout.contains("[build] installing\n"))
        #expect(first.stdout.contains("[build] cache 'cache': saved 'oci-"), "\(first.stdout)")
        let second = try await run(temp, ["run", "oci.yml", "--log-format", "plain"], podman, extra: environment)
        #expect(second.status == 0, "\(second.stdout)\(second.stderr)")
        #expect(second.stdout.contains("[build] cache 'cache': restored 'oci-"), "\(second.stdout)")
        #expect(!second.stdout.contains("[build] installing\n"))
        #expect(second.stdout.contains("[build] hit=true lib tool 750 700 home="), "\(second.stdout)")
        // A new lock file: the exact key misses, the restore key brings the old entry into the
        // container, and the install step runs (cache-hit is false).
        let firstKey = second.stdout.components(separatedBy: "restored '").dropFirst().first?.components(separatedBy: "'").first ?? "?"
        try temp.write("lock.txt", "v2\n")
        let third = try await run(temp, ["run", "oci.yml", "--log-format", "plain"], podman, extra: environment)
        #expect(third.status == 0, "\(third.stdout)\(third.stderr)")
        #expect(third.stdout.contains("[build] cache 'cache': restored '\(firstKey)' (restore key)"), "\(third.stdout)")
        #expect(third.stdout.contains("[build] installing\n"))
        #expect(third.stdout.contains("[build] hit=false lib tool 750 700 home="), "\(third.stdout)")
        #expect(try podman.containers().isEmpty)
    }
}

extension RealExecutorSuites.SSHExecutorTests {
    @Test("hashFiles on an ssh job hashes the remote workspace through the files interface, GitHub's way")
    func hashFiles() async throws {
        let server = try await offThePool { try SSHServer() }
        defer { server.stop() }
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let remote = temp.path + "/remote"
        try FileManager.default.createDirectory(atPath: remote, withIntermediateDirectories: true)
        try temp.write("a/lock.json", "one\n")
        try temp.write("b/lock.json", "two\n")
        try temp.write("wf.yml", """
            jobs:
              build:
                executor: \(Self.executor([server], workdir: remote))
                steps:
                  - run: echo "before=${{ hashFiles('**/lock.json') }}"
                  - run: echo three > c.json
                  - run: echo "after=${{ hashFiles('**/lock.json', '*.json') }} none=[${{ hashFiles('nothing/**') }}]"
            """)
        let result = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        // SHA-256 over the SHA-256 digests of the matching files in path order.
        func expected(_ contents: [String]) -> String {
            let script = "import hashlib,sys\nh=hashlib.sha256()\nfor c in sys.argv[1:]: h.update(hashlib.sha256(c.encode()).digest())\nprint(h.hexdigest())"
            let out = (try? runCommandBlocking(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", script] + contents))?.stdout ?? ""
            return out.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        #expect(result.stdout.contains("[build] before=\(expected(["one\n", "two\n"]))\n"), "\(result.stdout)")
        #expect(result.stdout.contains("[build] after=\(expected(["one\n", "two\n", "three\n"])) none=[]\n"), "\(result.stdout)")
    }
}
