import Foundation
import Testing
import TestSupport

@Suite("Scenarios: artifacts between jobs and the uses: actions NixActions maps")
struct ArtifactScenarios {
    @Test("artifacts: keep in one job, restore under a path in the job that needs it")
    func keepAndRestore() throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try scenario.run("""
            name: artifacts
            jobs:
              build:
                artifacts:
                  keep: [dist/]
                steps:
                  - run: |
                      mkdir -p dist/sub
                      echo "app v1" > dist/app.txt
                      echo "nested" > dist/sub/more.txt
                      echo "not kept" > scratch.txt
              deploy:
                needs: build
                artifacts:
                  restore:
                    - job: build
                      path: vendor
                steps:
                  - run: |
                      echo "deploy-read=$(cat vendor/dist/app.txt)"
                      echo "nested-read=$(cat vendor/dist/sub/more.txt)"
                      [ ! -e dist ] && echo "nothing restored at the workspace root"
                      [ ! -e vendor/scratch.txt ] && [ ! -e scratch.txt ] && echo "only kept paths travel"
            """)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let out = result.stdout
        #expect(out.contains("[deploy] deploy-read=app v1\n"))
        #expect(out.contains("[deploy] nested-read=nested\n"))
        #expect(out.contains("[deploy] nothing restored at the workspace root\n"))
        #expect(out.contains("[deploy] only kept paths travel\n"))
    }

    @Test("a kept path that does not exist fails the job that keeps it, and its dependants are skipped")
    func missingKeptPath() throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try scenario.run("""
            name: missing
            jobs:
              build:
                artifacts:
                  keep: [dist/]
                steps:
                  - run: echo "forgot to build"
              deploy:
                needs: build
                artifacts:
                  restore: [build]
                steps:
                  - run: echo must-not-deploy
            """)
        #expect(result.status == 1)
        #expect(result.stdout.contains("[build] error: artifact 'build': 'dist/' does not exist in the workspace"), "\(result.stdout)")
        #expect(result.stdout.contains("==> job 'build' failure"))
        #expect(!result.stdout.contains("[deploy] must-not-deploy"))
        #expect(result.stdout.contains("==> job 'deploy' skipped"))
    }

    @Test("uses: actions/upload-artifact@v4 and actions/download-artifact@v4 move a file to a dependent job")
    func uploadDownload() throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try scenario.run("""
            name: actions
            jobs:
              upload:
                steps:
                  - run: echo "payload 42" > out.txt
                  - uses: actions/upload-artifact@v4
                    with:
                      name: x
                      path: out.txt
              download:
                needs: upload
                steps:
                  - uses: actions/download-artifact@v4
                    with:
                      name: x
                      path: got
                  - run: |
                      echo "download-read=$(cat got/out.txt)"
                      [ ! -e out.txt ] && echo "the file is only under got/"
            """)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let out = result.stdout
        #expect(out.contains("[upload] > actions/upload-artifact@v4\n"))
        #expect(out.contains("[upload] uploaded artifact 'x': out.txt\n"))
        #expect(out.contains("[download] downloaded artifact 'x'\n"))
        #expect(out.contains("[download] download-read=payload 42\n"))
        #expect(out.contains("[download] the file is only under got/\n"))
    }

    @Test("an unknown uses: is refused before anything runs: exit 2, naming the action and the step")
    func unknownAction() throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try scenario.run("""
            name: uses
            jobs:
              build:
                steps:
                  - run: echo must-not-run
                  - name: Setup node
                    uses: actions/setup-node@v4
                    with:
                      node-version: 20
            """)
        #expect(result.status == 2)
        #expect(result.stderr.contains("actions/setup-node"), "\(result.stderr)")
        #expect(result.stderr.contains("step 2"), "the error names the step:\n\(result.stderr)")
        #expect(result.stderr.contains("wf.yml:7:"), "the error points at the uses: line:\n\(result.stderr)")
        #expect(result.stderr.contains("error: "))
        #expect(!result.stdout.contains("must-not-run"))
        #expect(!result.stdout.contains("==> job"))
    }
}
