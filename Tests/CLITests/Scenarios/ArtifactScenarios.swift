import Foundation
import Testing
import TestSupport

@Suite("Scenarios: artifacts between jobs and the uses: actions NixActions maps")
struct ArtifactScenarios {
    @Test("artifacts: keep in one job, restore under a path in the job that needs it")
    func keepAndRestore() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
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

    @Test("matrix instances keeping one artifact at once: each succeeds and the artifact is one instance's copy, whole; upload-artifact@v3 to one name at once adds both (audit 51: File exists, or a mix); @v4 lets one of them upload it and fails the others with GitHub's 409 (audit 55 F1)")
    func concurrentKeeps() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            jobs:
              m:
                strategy: { fail-fast: false, matrix: { n: [1, 2, 3] } }
                artifacts: { keep: [out/] }
                steps:
                  - run: |
                      mkdir -p out up/${{ matrix.n }}
                      for i in $(seq 1 300); do echo ${{ matrix.n }} > out/f$i; echo ${{ matrix.n }} > up/${{ matrix.n }}/f$i; done
                  - uses: actions/upload-artifact@v3
                    with: { name: shared, path: up/ }
                  - uses: actions/upload-artifact@v4
                    id: once
                    continue-on-error: true
                    with: { name: once, path: up/ }
                  - run: echo "once=${{ steps.once.outcome }}"
              check:
                needs: m
                artifacts: { restore: [m] }
                steps:
                  - uses: actions/download-artifact@v4
                    with: { name: shared, path: got }
                  - uses: actions/download-artifact@v4
                    with: { name: once, path: one }
                  - run: |
                      echo "kept from $(cat out/f* | sort -u | wc -l) instance(s), $(ls out | wc -l) files"
                      echo "uploaded $(ls got | tr '\\n' ' ')and $(cat got/*/f* | wc -l) files"
                      echo "once: $(ls one | wc -l) instance's folder, $(cat one/*/f* | sort -u | wc -l) value, $(cat one/*/f* | wc -l) files"
            """, ["--jobs", "3"])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("[check] kept from 1 instance(s), 300 files\n"), "\(result.stdout)")
        #expect(result.stdout.contains("[check] uploaded 1 2 3 and 900 files\n"), "\(result.stdout)")
        #expect(!result.stdout.contains("File exists"), "\(result.stdout)")
        // v4: one name once per run, whichever instance came first; the others get GitHub's 409.
        let outcomes = result.stdout.split(separator: "\n").filter { $0.contains("] once=") }.map { $0.split(separator: "=").last ?? "" }
        #expect(outcomes.sorted() == ["failure", "failure", "success"], "\(result.stdout)")
        #expect(result.stdout.components(separatedBy: "(409) Conflict: an artifact with this name already exists on the workflow run ('once')").count - 1 == 2,
                "\(result.stdout)")
        #expect(result.stdout.contains("[check] once: 1 instance's folder, 1 value, 300 files\n"), "\(result.stdout)")
    }

    @Test("download-artifact extracts over what is in the workspace, as GitHub's does: a folder of the same name keeps its other files (audit 51: it was replaced whole)")
    func downloadOverExisting() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            jobs:
              up:
                steps:
                  - run: mkdir -p src && echo gen > src/generated.c
                  - uses: actions/upload-artifact@v4
                    with: { name: gen, path: "src/generated.c\\nREADME.none" }
              down:
                needs: up
                steps:
                  - run: mkdir -p src && echo main > src/main.c
                  - uses: actions/download-artifact@v4
                    with: { name: gen }
                  - uses: actions/download-artifact@v4
                  - run: echo "src holds $(ls src | tr '\\n' ' ')and gen/src holds $(ls gen/src)"
            """)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("[down] src holds generated.c main.c and gen/src holds generated.c\n"), "\(result.stdout)")
    }

    @Test("download-artifact where the workspace has a folder for an artifact's file, or a file for its folder, or a file on its path: the step fails saying what is in the way, and nothing there is removed (audit 64 cache L1, L2)")
    func downloadKindClash() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            jobs:
              up:
                steps:
                  - run: mkdir -p dist && echo new > dist/new.txt && echo f > x
                  - uses: actions/upload-artifact@v4
                    with: { name: kinds, path: "dist/\\nx" }
              down:
                needs: up
                workspace: { copy-project: false }
                steps:
                  - run: mkdir -p x && echo keep > x/keep && echo file > dist
                  - name: Over a folder and a file
                    uses: actions/download-artifact@v4
                    with: { name: kinds }
                    continue-on-error: true
                  - name: Under a file
                    uses: actions/download-artifact@v4
                    with: { name: kinds, path: dist/sub }
                    continue-on-error: true
                  - run: echo "x/keep=$(cat x/keep) dist=$(cat dist)"
            """)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("[down] x/keep=keep dist=file\n"), "\(result.stdout)")
        #expect(result.stdout.contains("step 'Over a folder and a file': artifact 'kinds': cannot put '"), "\(result.stdout)")
        #expect(result.stdout.contains("is in the way of a") && result.stdout.contains("; nothing was removed"), "\(result.stdout)")
        #expect(result.stdout.contains("step 'Under a file': artifact 'kinds': cannot make 'dist/sub' a folder to put it in: 'dist' is there and is not a folder"),
                "\(result.stdout)")
        #expect(!result.stdout.contains("NSCocoaErrorDomain"), "\(result.stdout)")
    }

    @Test("a kept path that does not exist fails the job that keeps it, and its dependants are skipped")
    func missingKeptPath() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
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
        #expect(result.stdout.contains("==> job 'build' failed"))
        #expect(!result.stdout.contains("[deploy] must-not-deploy"))
        #expect(result.stdout.contains("==> job 'deploy' skipped"))
    }

    @Test("uses: actions/upload-artifact@v4 and actions/download-artifact@v4 move a file to a dependent job")
    func uploadDownload() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
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
        #expect(out.contains("[upload] uploaded artifact 'x': out.txt (1 file)\n"))
        #expect(out.contains("[download] downloaded artifact 'x'\n"))
        #expect(out.contains("[download] download-read=payload 42\n"))
        #expect(out.contains("[download] the file is only under got/\n"))
    }

    @Test("an unknown uses: is refused before anything runs: exit 2, naming the action and the step")
    func unknownAction() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
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

    // MARK: Paths that leave the workspace

    /// A relative path from any job workspace to `absolute`: enough `../` to reach `/` from any depth.
    static func climbing(to absolute: String) -> String {
        String(repeating: "../", count: 24) + absolute.dropFirst()
    }

    @Test("upload-artifact with a path of many ../ fails the step naming the path, and the file is not deleted")
    func uploadEscapes() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let victim = scenario.marks + "/victim.txt"
        try "precious\n".write(toFile: victim, atomically: true, encoding: .utf8)
        let path = Self.climbing(to: victim)
        let result = try await scenario.run("""
            name: escape
            jobs:
              build:
                steps:
                  - name: Upload outside
                    uses: actions/upload-artifact@v4
                    with:
                      name: x
                      path: \(path)
                  - run: echo must-not-run
            """)
        #expect(result.status == 1, "\(result.stdout)\n\(result.stderr)")
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious\n", "the uploaded file must never be removed")
        #expect(result.stdout.contains("step 'Upload outside': artifact 'x': path '\(path)' leads outside the job's workspace"), "\(result.stdout)")
        #expect(result.stdout.contains("hint: artifact paths are relative to the job's workspace and must stay inside it"))
        #expect(!result.stdout.contains("] must-not-run"))
    }

    @Test("artifacts.keep and artifacts.restore with a path of many ../ are refused before anything runs (at their place: audit 64 cache M4), and the file is not deleted")
    func keepEscapes() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let victim = scenario.marks + "/victim.txt"
        try "precious\n".write(toFile: victim, atomically: true, encoding: .utf8)
        let path = Self.climbing(to: victim)
        let result = try await scenario.run("""
            name: escape
            jobs:
              build:
                artifacts:
                  keep: ["\(path)"]
                steps:
                  - run: echo built
            """)
        #expect(result.status == 2, "\(result.stdout)\n\(result.stderr)")
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious\n")
        #expect(result.stderr.contains(":5:14: error: artifact 'build': path '\(path)' leads outside the job's workspace"), "\(result.stderr)")
        #expect(!result.stdout.contains("built"), "\(result.stdout)")
        let restore = try await scenario.run("""
            name: escape
            jobs:
              build:
                artifacts: { keep: [out/] }
                steps: [ { run: mkdir out } ]
              restore:
                needs: build
                artifacts:
                  restore:
                    - job: build
                      path: \(path)
                    - { job: build, path: /abs }
                steps:
                  - run: echo must-not-run
            """)
        #expect(restore.status == 2, "\(restore.stdout)\n\(restore.stderr)")
        #expect(restore.stderr.contains(":11:17: error: artifact 'build': path '\(path)' leads outside the job's workspace"), "\(restore.stderr)")
        #expect(restore.stderr.contains(":12:31: error: artifact 'build': path '/abs' is absolute"), "\(restore.stderr)")
        #expect(!restore.stdout.contains("] must-not-run"), "\(restore.stdout)")
    }

    @Test("download-artifact into ../../… fails the step and leaves an existing folder of that name outside untouched")
    func downloadEscapes() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        // Outside the workspace: marks/dist/keep.txt, which a download of an artifact holding dist/ would replace.
        try FileManager.default.createDirectory(atPath: scenario.marks + "/dist", withIntermediateDirectories: true)
        try "precious\n".write(toFile: scenario.marks + "/dist/keep.txt", atomically: true, encoding: .utf8)
        let deep = Self.climbing(to: scenario.marks)
        let result = try await scenario.run("""
            name: escape
            jobs:
              upload:
                artifacts:
                  keep: [dist/]
                steps:
                  - run: mkdir dist && echo new > dist/app.txt
                  - uses: actions/upload-artifact@v4
                    with: { name: x, path: dist/ }
              near:
                needs: upload
                steps:
                  - name: Download near
                    uses: actions/download-artifact@v4
                    with: { name: x, path: ../../x }
              deep:
                needs: upload
                steps:
                  - name: Download deep
                    uses: actions/download-artifact@v4
                    with:
                      name: x
                      path: \(deep)
            """)
        #expect(result.status == 1, "\(result.stdout)\n\(result.stderr)")
        #expect(try String(contentsOfFile: scenario.marks + "/dist/keep.txt", encoding: .utf8) == "precious\n")
        #expect(!FileManager.default.fileExists(atPath: scenario.marks + "/dist/app.txt"))
        #expect(result.stdout.contains("step 'Download near': artifact 'x': path '../../x' leads outside the job's workspace"), "\(result.stdout)")
        #expect(result.stdout.contains("step 'Download deep': artifact 'x': path '\(deep)' leads outside the job's workspace"))
    }

    @Test("absolute artifact paths are refused with a hint, for upload and for download")
    func absolutePaths() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let victim = scenario.marks + "/victim.txt"
        try "precious\n".write(toFile: victim, atomically: true, encoding: .utf8)
        let target = scenario.marks + "/abs"
        let result = try await scenario.run("""
            name: absolute
            jobs:
              upload:
                steps:
                  - run: echo data > out.txt
                  - uses: actions/upload-artifact@v4
                    with: { name: ok, path: out.txt }
                  - name: Upload absolute
                    uses: actions/upload-artifact@v4
                    with: { name: x, path: \(victim) }
              download:
                needs: upload
                if: always()
                steps:
                  - name: Download absolute
                    uses: actions/download-artifact@v4
                    with: { name: ok, path: \(target) }
            """)
        #expect(result.status == 1, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("step 'Upload absolute': artifact 'x': path '\(victim)' is absolute"), "\(result.stdout)")
        #expect(result.stdout.contains("hint: use a path relative to the job's workspace (e.g. dist/ or reports/junit.xml)"))
        #expect(result.stdout.contains("step 'Download absolute': artifact 'ok': path '\(target)' is absolute"))
        #expect(!FileManager.default.fileExists(atPath: target))
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious\n")
    }

    @Test("a symbolic link inside the workspace that points outside is not followed out, for upload or download")
    func symlinkEscapes() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        try "secret\n".write(toFile: scenario.marks + "/secret.txt", atomically: true, encoding: .utf8)
        let result = try await scenario.run("""
            name: links
            jobs:
              upload:
                steps:
                  - run: |
                      ln -s \(scenario.marks) outside
                      echo data > out.txt
                  - uses: actions/upload-artifact@v4
                    with: { name: ok, path: out.txt }
                  - name: Upload through link
                    uses: actions/upload-artifact@v4
                    with: { name: x, path: outside/secret.txt }
              download:
                needs: upload
                if: always()
                steps:
                  - run: ln -s \(scenario.marks) outside
                  - name: Download through link
                    uses: actions/download-artifact@v4
                    with: { name: ok, path: outside/got }
            """)
        #expect(result.status == 1, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("step 'Upload through link': artifact 'x': path 'outside/secret.txt' leads outside the job's workspace (it resolves to '\(scenario.marks)/secret.txt' through a symbolic link)"), "\(result.stdout)")
        #expect(result.stdout.contains("step 'Download through link': artifact 'ok': path 'outside/got' leads outside the job's workspace"))
        #expect(!FileManager.default.fileExists(atPath: scenario.marks + "/got"))
    }

    @Test("paths with .. that stay inside the workspace still work; a name of dots cannot name the artifact folder")
    func insidePathsAndNames() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            name: inside
            jobs:
              upload:
                steps:
                  - run: mkdir -p dist/sub && echo v1 > dist/app.txt
                  - uses: actions/upload-artifact@v4
                    with: { name: x, path: dist/sub/../app.txt }
                  - name: Upload dots
                    uses: actions/upload-artifact@v4
                    with: { name: "..", path: dist/app.txt }
              download:
                needs: upload
                if: always()
                steps:
                  - uses: actions/download-artifact@v4
                    with: { name: x, path: got/./deeper/.. }
                  - run: echo "read=$(cat got/app.txt)"  # one file: stored from the folder that holds it
                  # A name of dots is a name like any (GitHub forbids only " : < > | * ? \\ / and line breaks):
                  # its folder is a digest's, inside the artifacts' folder, and apart from every other name's.
                  - uses: actions/download-artifact@v4
                    with: { name: "..", path: dots }
                  - run: echo "dots=$(cat dots/app.txt)"
            """)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("[download] read=v1\n"), "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("[download] dots=v1\n"), "\(result.stdout)")
    }

    @Test("names that differ only in case, punctuation or letters beyond a-z are different artifacts; names of other letters are taken (audit 51: they merged, or were refused); upload again: v3 adds, v4 fails (audit 55 F1), overwrite: true replaces")
    func distinctNames() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            jobs:
              up:
                steps:
                  - run: for n in 1 2 3 4 5; do mkdir -p d$n && echo $n > d$n/f$n; done
                  - uses: actions/upload-artifact@v4
                    with: { name: my.dist, path: d1/ }
                  - uses: actions/upload-artifact@v4
                    with: { name: my dist, path: d2/ }
                  - uses: actions/upload-artifact@v4
                    with: { name: Report, path: d3/ }
                  - uses: actions/upload-artifact@v4
                    with: { name: report, path: d4/ }
                  - uses: actions/upload-artifact@v4
                    with: { name: ビルド, path: d5/ }
                  # Again to one name: added by v3, refused by v4 (and a branch or a SHA); with overwrite: true, replacing.
                  - uses: actions/upload-artifact@v3
                    with: { name: again, path: d1/ }
                  - uses: actions/upload-artifact@v3
                    with: { name: again, path: d2/ }
                  - uses: actions/upload-artifact@v4
                    id: refused
                    continue-on-error: true
                    with: { name: again, path: d3/ }
                  - uses: actions/upload-artifact@main
                    id: refused-main
                    continue-on-error: true
                    with: { name: again, path: d3/ }
                  - run: echo "refused=${{ steps.refused.outcome }} ${{ steps.refused-main.outcome }}"
                  - uses: actions/upload-artifact@v4
                    with: { name: replaced, path: d1/ }
                  - uses: actions/upload-artifact@v4
                    with: { name: replaced, path: d2/, overwrite: true }
              down:
                needs: up
                steps:
                  - uses: actions/download-artifact@v4
                    with: { path: all }
                  - run: |
                      for a in all/*; do echo "$a: $(ls "$a" | tr '\\n' ' ')"; done
            """)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("[up] refused=failure failure\n"), "\(result.stdout)")
        #expect(result.stdout.contains("hint: upload-artifact v4 and later upload a name once per run"), "\(result.stdout)")
        for line in ["[down] all/my.dist: f1 \n", "[down] all/my dist: f2 \n", "[down] all/Report: f3 \n", "[down] all/report: f4 \n", "[down] all/ビルド: f5 \n",
                     "[down] all/again: f1 f2 \n", "[down] all/replaced: f2 \n"] {
            #expect(result.stdout.contains(line), "missing \(line.debugDescription) in \(result.stdout)")
        }
    }
}
