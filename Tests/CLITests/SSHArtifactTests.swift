import Foundation
import Testing
import TestSupport

/// Artifacts of jobs on an ssh host move through the executor's files interface (tar over the
/// job's connection), never through a shared disk: the same path rules as on this machine.
extension RealExecutorSuites {
    @Suite("The ssh executor: artifacts through the files interface", .serialized)
    struct SSHArtifactTests {
        @Test("6 MB there and back intact; a path through a remote symbolic link is neither kept nor restored into; nothing is written outside")
        func linksOnTheHost() async throws {
            let server = try await offThePool { try SSHServer() }
            defer { server.stop() }
            let temp = try TemporaryDirectory()
            defer { temp.remove() }
            let remote = temp.path + "/remote", marks = temp.path + "/marks"
            for folder in [remote, marks] { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
            try "secret\n".write(toFile: marks + "/secret.txt", atomically: true, encoding: .utf8)
            let executor = SSHExecutorTests.executor([server], workdir: remote)
            try temp.write("wf.yml", """
                jobs:
                  build:
                    executor: \(executor)
                    steps:
                      - run: |
                          ln -s \(marks) outside
                          mkdir -p dist/bin/linux dist/bin/mac && echo "v2" > dist/app.txt
                          echo l > dist/bin/linux/tool; echo m > dist/bin/mac/tool; echo t > dist/bin/mac/tool.tmp
                          head -c 6000000 /dev/urandom > dist/big.bin
                          echo "sum=$(cksum < dist/big.bin)"
                      - uses: actions/upload-artifact@v4
                        with: { name: ok, path: dist/ }
                      - uses: actions/upload-artifact@v4
                        with:
                          name: tools-linux
                          path: |
                            dist/bin/linux/*
                      - uses: actions/upload-artifact@v4
                        with:
                          name: tools-mac
                          path: |
                            dist/bin/**/tool*
                            !**/*.tmp
                            !dist/bin/linux
                      - name: Upload through link
                        uses: actions/upload-artifact@v4
                        with: { name: x, path: outside/secret.txt }
                        continue-on-error: true
                      - name: Upload missing
                        uses: actions/upload-artifact@v4
                        with: { name: y, path: nothing/here }
                        continue-on-error: true
                  deploy:
                    executor: \(executor)
                    needs: build
                    steps:
                      - run: ln -s \(marks) outside
                      - name: Download through link
                        uses: actions/download-artifact@v4
                        with: { name: ok, path: outside/got }
                        continue-on-error: true
                      - uses: actions/download-artifact@v4
                        with: { name: ok, path: in }
                      - uses: actions/download-artifact@v4
                        with: { pattern: "tools-*", path: tools, merge-multiple: true }
                      - run: find tools -type f | LC_ALL=C sort | sed 's/^/tool=/'
                      - run: |
                          echo "read=$(cat in/app.txt)"
                          echo "sum=$(cksum < in/big.bin)"
                """)
            let result = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path)
            let out = result.stdout
            #expect(result.status == 0, "\(out)\(result.stderr)")
            // A link is not followed out of the job: nothing is found there (a warning, as for any path that matches nothing).
            #expect(out.contains("[build] warning: No files were found with the provided path: outside/secret.txt. No artifacts will be uploaded."), "\(out)")
            #expect(out.contains("[build] warning: No files were found with the provided path: nothing/here. No artifacts will be uploaded."))
            #expect(out.contains("step 'Download through link': artifact 'ok': path 'outside/got' leads outside the job's workspace"))
            #expect(out.contains("[deploy] read=v2\n"))
            // Globs and exclusions on the host; roots by GitHub's rule (dist/bin/linux; dist/bin); merged on download.
            #expect(out.contains("[deploy] tool=tools/mac/tool\n[deploy] tool=tools/tool\n"), "\(out)")
            // 6 MB of random bytes went there and back intact.
            let sums = out.split(separator: "\n").filter { $0.contains("] sum=") }.map { $0.split(separator: "=").last.map(String.init) ?? "" }
            #expect(sums.count == 2 && sums[0] == sums[1], "\(sums)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: marks) == ["secret.txt"], "written outside the workspace")
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: remote)) ?? ["?"]).isEmpty, "the remote run folder is left")
        }

        @Test("a file named after a secret, sent into an ssh job (an artifact's entry): never on the host tar's command line (audit 58 secrets M2)")
        func secretNamedFileNotOnTheCommandLine() async throws {
            let server = try await offThePool { try SSHServer() }
            defer { server.stop() }
            let temp = try TemporaryDirectory()
            defer { temp.remove() }
            let remote = temp.path + "/remote", bin = temp.path + "/bin"
            for folder in [remote, bin] { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
            // A tar in front of the real one, on the host's PATH, that writes down its arguments.
            let real = ["/usr/bin/tar", "/bin/tar"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/bin/tar"
            try temp.write("bin/tar", "#!/bin/sh\nprintf '%s\\n' \"$*\" >> \(temp.path)/tar-arguments\nexec \(real) \"$@\"\n")
            chmod(bin + "/tar", 0o755)
            let executor = SSHExecutorTests.executor([server], workdir: remote)
            try temp.write("wf.yml", """
                secrets: [API_KEY]
                jobs:
                  build:
                    steps:
                      - run: mkdir -p out && echo x > "out/d-$API_KEY" && echo y > out/plain
                      - uses: actions/upload-artifact@v4
                        with: { name: named, path: out/ }
                  deploy:
                    executor: \(executor)
                    needs: build
                    steps:
                      - uses: actions/download-artifact@v4
                        with: { name: named, path: got }
                      - run: ls got | wc -l
                """)
            let secret = "Sup3rS3cretValue99"
            let path = bin + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
            let result = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path, environment: ["API_KEY": secret, "PATH": path])
            #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
            #expect(result.stdout.contains("[deploy] 2\n"), "\(result.stdout)")
            let recorded = (try? String(contentsOfFile: temp.path + "/tar-arguments", encoding: .utf8)) ?? ""
            #expect(recorded.contains("--null --verbatim-files-from -T "), "the host's tar did not send the artifact: \(recorded)")
            #expect(!recorded.contains(secret), "\(recorded)")
        }
    }
}
