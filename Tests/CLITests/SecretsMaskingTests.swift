import Foundation
import Testing
import TestSupport

/// Every way a value reached the logs when we attacked the redactor (issue 9), each as a real run
/// checked in every log format and in every file the run wrote.
@Suite("Masking: the attacks that used to leak")
struct SecretsMaskingTests {
    /// Run `workflow` in all three log formats; return what each printed, with the log folders.
    func runAllFormats(_ workflow: String, arguments: [String] = [], environment: [String: String] = [:]) throws
        -> [(format: String, result: CommandResult, files: [String: Data])]
    {
        var runs: [(String, CommandResult, [String: Data])] = []
        for format in ["human", "plain", "json"] {
            let temp = try TemporaryDirectory()
            defer { temp.remove() }
            try temp.write("wf.yml", workflow)
            let result = try nixactions(
                ["run", "wf.yml", "--log-format", format, "--log-dir", temp.path + "/logs"] + arguments, in: temp.path,
                environment: environment)
            var files: [String: Data] = [:]
            if let walker = FileManager.default.enumerator(atPath: temp.path + "/logs") {
                for case let name as String in walker {
                    var isFolder: ObjCBool = false
                    let path = temp.path + "/logs/" + name
                    if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), !isFolder.boolValue {
                        files[name] = FileManager.default.contents(atPath: path) ?? Data()
                    }
                }
            }
            runs.append((format, result, files))
        }
        return runs
    }

    /// No run printed or wrote `secret`; every run succeeded (unless told otherwise).
    func expectNoLeak(_ runs: [(format: String, result: CommandResult, files: [String: Data])], _ secrets: [String],
                      status: Int32 = 0, sourceLocation: SourceLocation = #_sourceLocation) {
        for run in runs {
            #expect(run.result.status == status, "\(run.format): \(run.result.stderr)", sourceLocation: sourceLocation)
            #expect(!run.files.isEmpty, "\(run.format): no log files", sourceLocation: sourceLocation)
            for secret in secrets {
                #expect(!run.result.stdout.contains(secret), "\(run.format) stdout shows \(secret.debugDescription)", sourceLocation: sourceLocation)
                #expect(!run.result.stderr.contains(secret), "\(run.format) stderr shows \(secret.debugDescription)", sourceLocation: sourceLocation)
                for (name, data) in run.files {
                    let text = String(decoding: data, as: UTF8.self)
                    #expect(!text.contains(secret), "\(run.format) \(name) holds \(secret.debugDescription)", sourceLocation: sourceLocation)
                    // events.jsonl escapes text as JSON: look for that form too.
                    let json = String(decoding: try! JSONSerialization.data(withJSONObject: [secret], options: [.withoutEscapingSlashes]), as: UTF8.self)
                        .dropFirst(2).dropLast(2)
                    #expect(!text.contains(json), "\(run.format) \(name) holds the JSON form of \(secret.debugDescription)", sourceLocation: sourceLocation)
                }
            }
        }
    }

    @Test("annotation properties: title= and file= are masked in console, job log, summary and events")
    func annotationProperties() throws {
        let runs = try runAllFormats("""
            jobs:
              a:
                steps:
                  - name: attack
                    run: |
                      S=annotation-secret-7731
                      echo "::add-mask::$S"
                      echo "::warning title=$S,file=src/$S.c,line=3::message $S"
                      echo "::error title=T $S::another"
            """)
        expectNoLeak(runs, ["annotation-secret-7731"])
        for run in runs { #expect(run.result.stdout.contains("***"), "\(run.format)") }
    }

    @Test("::add-mask:: on stderr masks the value, on both streams, and is not echoed")
    func maskOnStderr() throws {
        let runs = try runAllFormats("""
            jobs:
              a:
                steps:
                  - name: attack
                    run: |
                      S=stderr-masked-5521
                      echo "::add-mask::$S" >&2
                      echo "out $S"; echo "err $S" >&2
                  - name: the other way round
                    run: |
                      T=stdout-masked-6632
                      echo "::add-mask::$T"
                      echo "err $T" >&2; echo "out $T"
            """)
        expectNoLeak(runs, ["stderr-masked-5521", "stdout-masked-6632", "::add-mask::"])
    }

    @Test("::add-mask:: values are unescaped as GitHub's runner does (%25, %0A, %0D)")
    func escapedMask() throws {
        let runs = try runAllFormats("""
            jobs:
              a:
                steps:
                  - name: attack
                    run: |
                      echo "::add-mask::line-one-100%25-sure%0Aline-two-escaped%0D"
                      printf 'first: line-one-100%%-sure\\nsecond: line-two-escaped\\n'
            """)
        expectNoLeak(runs, ["line-one-100%-sure", "line-two-escaped"])
    }

    @Test("a combining mark or an emoji modifier after a secret does not hide it")
    func combiningMarks() throws {
        let runs = try runAllFormats("""
            jobs:
              a:
                steps:
                  - name: attack
                    run: |
                      echo "::add-mask::cafe-secret-99"
                      printf 'x cafe-secret-99\\xcc\\x81 y\\n'
                      printf 'thumbs cafe-secret-99\\xf0\\x9f\\x8f\\xbd\\n'
            """)
        expectNoLeak(runs, ["cafe-secret-99"])
    }

    @Test("a secret across the 64 KiB line cut is masked whole")
    func lineCut() throws {
        let runs = try runAllFormats("""
            jobs:
              a:
                steps:
                  - name: attack
                    run: |
                      echo "::add-mask::straddling-secret-4242"
                      head -c 65530 /dev/zero | tr '\\0' x; echo "straddling-secret-4242 tail"
            """)
        expectNoLeak(runs, ["straddling-secret-4242", "straddling-sec", "ret-4242"])
    }

    @Test("base64 wrapped at 76 columns (an 87-byte secret) and JSON with \\u escapes are masked")
    func wrappedBase64AndJSON() throws {
        let secret = "wrapped-base64-" + String(repeating: "k9", count: 36)  // 87 bytes
        #expect(secret.utf8.count == 87)
        let encoded = Data(secret.utf8).base64EncodedString(options: [.lineLength76Characters, .endLineWithLineFeed])
        let lines = encoded.split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        let runs = try runAllFormats("""
            jobs:
              a:
                steps:
                  - name: attack
                    run: |
                      echo "::add-mask::\(secret)"
                      echo "::add-mask::json-é-secret-0077"
                      printf '%s' '\(secret)' | base64
                      python3 -c 'import json; print(json.dumps({"k": "json-é-secret-0077"}))'
            """)
        // The middle of each line is masked; no 20-character run of the encoding survives.
        var pieces: [String] = []
        for line in lines {
            let characters = Array(line)
            for start in stride(from: 4, to: max(5, characters.count - 24), by: 8) {
                pieces.append(String(characters[start..<min(characters.count, start + 20)]))
            }
        }
        expectNoLeak(runs, [secret, "json-\\u00e9-secret-0077", "json-é-secret-0077"] + pieces)
    }

    @Test("overlapping secrets are masked as their union")
    func overlaps() throws {
        let runs = try runAllFormats("""
            jobs:
              a:
                steps:
                  - name: attack
                    run: |
                      echo "::add-mask::abcXYZ12"
                      echo "::add-mask::XYZ12def"
                      echo "both abcXYZ12def end"
            """)
        expectNoLeak(runs, ["abcXYZ12", "XYZ12def", "XYZ12"])
        for run in runs where run.format != "json" { #expect(run.result.stdout.contains("both *** end"), "\(run.format)") }
    }

    @Test("values shorter than 4 bytes are not masked and say so once; empty values are refused")
    func shortValues() throws {
        let runs = try runAllFormats("""
            jobs:
              a:
                steps:
                  - name: attack
                    run: |
                      echo "::add-mask::abc"
                      echo "::add-mask::xy"
                      echo "::add-mask::"
                      echo "abc stays"
            """)
        for run in runs {
            #expect(run.result.status == 0)
            let all = run.result.stdout + run.result.stderr
            #expect(all.contains("abc stays"), "\(run.format)")
            #expect(all.components(separatedBy: "shorter than 4 bytes").count == 2, "\(run.format): one warning: \(all)")
            #expect(all.contains("empty value was ignored"), "\(run.format)")
        }
    }
}
