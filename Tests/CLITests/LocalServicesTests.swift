import Foundation
import NixActionsContainerKit
import Testing
import TestSupport

/// GitHub's `services:` for a job on this machine (the local executor), with a real podman.
extension RealExecutorSuites {
    @Suite("Services of a job on this machine: podman containers whose ports the steps reach on localhost", .serialized)
    struct LocalServicesTests {
        /// busybox's httpd serving its greeting on `port`, started a second late (the job waits for its health check).
        static func server(_ name: String, port: Int, ports: String, health: Bool = true) -> String {
            """
                  \(name):
                    image: \(PodmanFixture.image)
                    env: { GREETING: "hello from \(name)" }
                    ports: \(ports)
                    options: >-
                      --entrypoint '["sh","-c","sleep 1; mkdir -p /www; echo $GREETING > /www/index.html; exec httpd -f -p \(port) -h /www"]'
                      \(health ? "--health-cmd \"wget -qO- http://127.0.0.1:\(port)/\" --health-interval 1s --health-retries 20" : "")
            """
        }

        @Test("ports published on 127.0.0.1 (one given, one the engine chooses: job.services.<id>.ports), health waited for, env; a failing service fails the job with its output; none is left")
        func servicesOnThisMachine() async throws {
            let podman = try await offThePool { try PodmanFixture.ready() }
            let temp = try TemporaryDirectory()
            defer { temp.remove() }
            let fixed = Int.random(in: 30000...39999)
            try temp.write("wf.yml", """
                on: push
                jobs:
                  talk:
                    runs-on: ubuntu-latest
                    services:
                \(Self.server("web", port: 8080, ports: "[\"8080\"]"))
                \(Self.server("api", port: 9090, ports: "[\"\(fixed):9090\"]"))
                    steps:
                      - run: |
                          echo "web on ${{ job.services.web.ports['8080'] != '' }} api on ${{ job.services.api.ports['9090'] }} id=${{ job.services.web.id != '' }}"
                          echo "web says $(curl -s http://127.0.0.1:${{ job.services.web.ports['8080'] }}/)"
                          echo "api says $(curl -s http://localhost:\(fixed)/)"
                  broken:
                    runs-on: ubuntu-latest
                    services:
                      db:
                        image: \(PodmanFixture.image)
                        options: --entrypoint '["sh","-c","echo db-starting; echo bad-setting >&2; exit 3"]' --health-cmd "true"
                    steps:
                      - run: echo "never runs"
                  sick:
                    runs-on: ubuntu-latest
                    services:
                      cache:
                        image: \(PodmanFixture.image)
                        # Runs, and is never healthy: 2 failed checks in a row, 2 × 1s in (Docker's rule; the
                        # bound for a check that hangs is 0 + 2 × (1s + 1s) = 4s); its last 20 lines.
                        options: >-
                          --entrypoint '["sh","-c","for i in $(seq 1 30); do echo line-$i; done; exec sleep 300"]'
                          --health-cmd false --health-interval 1s --health-timeout 1s --health-retries 2
                    steps:
                      - run: echo "never runs either"
                """)
            let result = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path, environment: podman.environment)
            #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
            let out = result.stdout
            #expect(out.contains("[talk] web on true api on \(fixed) id=true\n"), "\(out)")
            #expect(out.contains("[talk] web says hello from web\n"), "\(out)")
            #expect(out.contains("[talk] api says hello from api\n"), "\(out)")
            #expect(out.contains("==> job 'talk' succeeded"), "\(out)")
            #expect(out.contains("[broken] error: cannot start job 'broken' on executor 'local': service 'db' of job 'broken' stopped before it was healthy; its last output:\n"), "\(out)")
            #expect(out.contains("db-starting\n") && out.contains("bad-setting\n"))
            #expect(!out.contains("never runs\n"))
            let sick = out.split(separator: "\n").first { $0.hasPrefix("[sick] error: cannot start job 'sick' on executor 'local': service 'cache' of job 'sick' is not healthy after ") }
            #expect(sick?.contains("s (its health check failed ") == true && sick?.hasSuffix(" times in a row); its last output:") == true, "\(out)")
            // Not the whole 4 s bound: at 2 s (2 × the interval), the checks taking what they take.
            let waited = sick.flatMap { Int($0.split(separator: "after ").last?.prefix { $0.isNumber } ?? "") } ?? 99
            #expect(waited >= 2 && waited <= 3, "\(out)")
            #expect(out.contains("line-11\n") && out.contains("line-30\n") && !out.contains("line-10\n"), "the last 20 lines: \(out)")
            #expect(!out.contains("never runs either\n"))
            #expect(try podman.containers().isEmpty, "a service container is left")
        }

        @Test("services: ${{ … }} (the whole map from one expression, here from a needs output) starts those services; a value that is not a map of services fails that job with its place")
        func servicesFromExpression() async throws {
            let podman = try await offThePool { try PodmanFixture.ready() }
            let temp = try TemporaryDirectory()
            defer { temp.remove() }
            // The services as JSON (a job makes it; here it reads it from the project).
            let web: [String: Any] = [
                "image": PodmanFixture.image, "ports": ["8080"],
                // Data, never evaluated again: a `${{` in a value stays as it is.
                "env": ["GREETING": "hello from json", "LITERAL": "${{ 1 + }}"],
                "options": #"--entrypoint '["sh","-c","mkdir -p /www; echo $GREETING > /www/index.html; exec httpd -f -p 8080 -h /www"]' "#
                    + #"--health-cmd "wget -qO- http://127.0.0.1:8080/" --health-interval 1s --health-retries 20"#,
            ]
            let json = try JSONSerialization.data(withJSONObject: ["web": web], options: [.sortedKeys, .withoutEscapingSlashes])
            try temp.write("services.json", String(decoding: json, as: UTF8.self))
            try temp.write("wf.yml", """
                on: push
                jobs:
                  plan:
                    outputs: { services: "${{ steps.p.outputs.services }}" }
                    steps:
                      - id: p
                        run: echo "services=$(cat services.json)" >> "$GITHUB_OUTPUT"
                  talk:
                    needs: plan
                    runs-on: ubuntu-latest
                    services: ${{ fromJSON(needs.plan.outputs.services) }}
                    steps:
                      - run: echo "web says $(curl -s http://127.0.0.1:${{ job.services.web.ports['8080'] }}/)"
                  wrong:
                    needs: plan
                    runs-on: ubuntu-latest
                    services: "${{ fromJSON('{\\"db\\":{\\"imag\\":\\"x\\"}}') }}"
                    steps:
                      - run: echo "never runs"
                """)
            let checked = try await nixactions(["validate", "wf.yml"], in: temp.path)
            #expect(checked.status == 0 && !checked.stderr.contains("warning"), "\(checked.stderr)")
            let result = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path, environment: podman.environment)
            #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
            let out = result.stdout
            #expect(out.contains("[talk] web says hello from json\n"), "\(out)")
            #expect(out.contains("wf.yml:17:15: job 'wrong': service 'db' has an unknown key 'imag'"), "\(out)")
            #expect(!out.contains("never runs\n"))
            #expect(try podman.containers().isEmpty, "a service container is left")
        }

        @Test("jobs whose services publish the same port of this machine run one after the other (the second waits, says so), not into 'address already in use'")
        func samePortWaits() async throws {
            let podman = try await offThePool { try PodmanFixture.ready() }
            let temp = try TemporaryDirectory()
            defer { temp.remove() }
            let fixed = Int.random(in: 40000...49999)
            try temp.write("wf.yml", """
                on: push
                jobs:
                  db:
                    runs-on: ubuntu-latest
                    strategy: { matrix: { n: [1, 2] } }
                    services:
                \(Self.server("api", port: 9090, ports: "[\"\(fixed):9090\"]"))
                    steps:
                      - run: |
                          echo "job ${{ matrix.n }} got: $(curl -s http://127.0.0.1:\(fixed)/)"
                          sleep 1
                """)
            let result = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path, environment: podman.environment)
            #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
            #expect(result.stdout.contains("job 1 got: hello from api\n") && result.stdout.contains("job 2 got: hello from api\n"), "\(result.stdout)")
            #expect(result.stdout.contains("waits for port \(fixed)/tcp of this machine, which another job's services publish"), "\(result.stdout)")
            #expect(try podman.containers().isEmpty, "a service container is left")
        }

        @Test("ports: no address given is 127.0.0.1 (a port the engine chooses when only the container's is given); an address given is kept")
        func publishedAddresses() throws {
            #expect(ServiceStarter.localPublished("8080:80") == "127.0.0.1:8080:80")
            #expect(ServiceStarter.localPublished("5432") == "127.0.0.1::5432")
            #expect(ServiceStarter.localPublished("53:53/udp") == "127.0.0.1:53:53/udp")
            #expect(ServiceStarter.localPublished("0.0.0.0:8080:80") == "0.0.0.0:8080:80")
            #expect(ServiceStarter.containerPort("127.0.0.1:8080:80") == "80/tcp")
            #expect(ServiceStarter.containerPort("53:53/udp") == "53/udp")
            #expect(ServiceStarter.hostPorts("80/tcp -> 127.0.0.1:41234\n53/udp -> 127.0.0.1:5353\n") == ["80/tcp": "41234", "53/udp": "5353"])
            let services = try ContainerService.parse(.object([
                "a": .object(["image": .string("x"), "ports": .array([.string("5432:5432"), .string("80"), .string("0.0.0.0:53:53/udp")])]),
            ]))
            #expect(PortReservations.fixedPorts(services) == ["5432/tcp", "53/udp"])
        }

        @Test("a host killed with SIGKILL while its job's services run: its supervisor removes them")
        func hostKilled() async throws {
            let podman = try await offThePool { try PodmanFixture.ready() }
            let temp = try TemporaryDirectory()
            defer { temp.remove() }
            try temp.write("wf.yml", """
                jobs:
                  t:
                    runs-on: ubuntu-latest
                    services:
                      first: { image: \(PodmanFixture.image), options: "--entrypoint '[\\"sleep\\",\\"300\\"]'" }
                      second: { image: \(PodmanFixture.image), options: "--entrypoint '[\\"sleep\\",\\"300\\"]'" }
                    steps:
                      - run: sleep 300
                """)
            let process = try LaunchedProcess([nixactionsBinary.path, "run", "wf.yml", "--log-format", "plain"], directory: temp.path,
                                             environment: ProcessInfo.processInfo.environment.merging(podman.environment) { _, new in new })
            #expect(try await podman.containers(atLeast: 2).count == 2, "the services never started")
            process.signal(SIGKILL)
            process.wait()
            let left = try await podman.containersGone()
            #expect(left.isEmpty, "the supervisor left \(left)")
            for name in left { _ = try? podman.podman(["rm", "-f", name]) }
        }
    }
}
