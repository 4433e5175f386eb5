import Foundation
import Testing
import TestSupport

/// The examples that use podman and sshd: in the serialized parent suite, so that no other
/// suite's containers or connections are running when they check that none is left.
extension RealExecutorSuites {
    @Suite("Examples with real executors (podman, sshd) run as documented", .serialized)
    struct RealExecutorExamplesTests {
        @Test("examples/10-containers: jobs in podman containers, an output and an artifact between them, a service, and a service of a job on this machine")
        func containers() async throws {
            let podman = try await offThePool { try PodmanFixture.ready() }
            let result = try await nixactions(["run", "examples/10-containers/workflow.yml", "--log-format", "plain"],
                                        in: packageDirectory.path, environment: podman.environment)
            #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
            #expect(result.stdout.contains("[build] building in a Linux container, busybox v"), "\(result.stdout)")
            #expect(result.stdout.contains("[check] got 'artifact from the container' (28 bytes) in a second container\n"))
            #expect(result.stdout.contains("[integration] api answered 'pong from the api service'\n"), "\(result.stdout)")
            #expect(result.stdout.contains("[on-this-machine] api on localhost answered 'pong from a service on this machine'\n"), "\(result.stdout)")
            #expect(try podman.containers().isEmpty)
        }

        @Test("examples/19-docker-actions: a Dockerfile action with an input, an output and GITHUB_ENV, and a docker:// step, run from its folder")
        func dockerActions() async throws {
            let podman = try await offThePool { try PodmanFixture.ready() }
            let logs = NSTemporaryDirectory() + "nxa-example19-\(getpid())"
            defer { try? FileManager.default.removeItem(atPath: logs) }
            let result = try await nixactions(["run", "workflow.yml", "--log-format", "plain", "--log-dir", logs],
                                              in: packageDirectory.path + "/examples/19-docker-actions", environment: podman.environment)
            #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
            for line in ["[report] counted 14 words in notes.txt (input: notes.txt)\n", "[report] notes.txt has 14 words (WORDS_COUNTED=14)\n",
                         "[report] notes.txt in a container, 2 lines\n"] {
                #expect(result.stdout.contains(line), "missing '\(line)' in:\n\(result.stdout)")
            }
            #expect(try podman.containers().isEmpty)
            #expect(try podman.podman(["images", "-q", "--filter", "reference=localhost/nixactions-*"]).stdout.isEmpty, "the built image is left")
        }

        @Test("examples/11-ssh: a runs-on label mapped to the ssh executor, on a real sshd")
        func ssh() async throws {
            let server = try await offThePool { try SSHServer() }
            defer { server.stop() }
            let temp = try TemporaryDirectory()
            defer { temp.remove() }
            // The example's config.yml with this test's server in place of build1.example.org.
            let config = try temp.write("config.yml", """
                runners:
                  build-host:
                    plugin: ssh
                    with: { host: "\(server.hostEntry)", identity-file: \(server.identityFile), known-hosts: \(server.knownHosts), workdir: \(temp.path) }
                """)
            let result = try await nixactions(["run", "examples/11-ssh/workflow.yml", "--config", config, "--log-format", "plain"],
                                        in: packageDirectory.path)
            #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
            #expect(result.stdout.contains("[build] building on Linux as "), "\(result.stdout)")
            #expect(result.stdout.contains("[build] the project came along\n"))
            #expect(result.stdout.contains("[report] build on the remote host gave a stamp\n"))
            #expect(result.stdout.contains("[report] the artifact says 'built on Linux'\n"))
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: temp.path)) ?? []).filter { $0.hasPrefix("nixactions-") }.isEmpty)
        }
    }
}
