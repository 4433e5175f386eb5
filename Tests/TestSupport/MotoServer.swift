import Foundation

/// A real moto S3 server (PyPI's moto) on 127.0.0.1, on a free port, with a bucket made. Call
/// `stop()` in a `defer`. It is moto's own server application behind Tests/Fixtures/moto_checked.py,
/// which adds three checks S3 makes and moto does not: a body's `x-amz-checksum-crc32`, every
/// `x-amz-*` header signed, and the parts' checksums listed at a multipart upload's completion.
///
/// `enforceAuth`: moto then checks credentials (INITIAL_NO_AUTH_ACTION_COUNT=0), so unknown
/// access keys get a 403 — how the tests make S3 refuse a backend.
public final class MotoServer: @unchecked Sendable {
    public let port: UInt16
    public let bucket: String
    public var endpoint: String { "http://127.0.0.1:\(port)" }
    private let process: LaunchedProcess
    private let lock = NSLock()
    private var stopped = false

    /// Credentials moto accepts (any, unless `enforceAuth`). Tests put them in the test
    /// process's environment, which every `nixactions` they start inherits, and nixactions masks
    /// the value of AWS_SECRET_ACCESS_KEY in its output: so the values are words no test prints
    /// (with "testing", an example's "testing linux v1" came out as "*** linux v1").
    public static let accessKey = "nxa-moto-key-4c1f"
    public static let secretKey = "nxa-moto-secret-9b2e"
    public static let environment = [
        "AWS_ACCESS_KEY_ID": accessKey, "AWS_SECRET_ACCESS_KEY": secretKey, "AWS_REGION": "us-east-1",
    ]

    public init(bucket: String = "nixactions-test", enforceAuth: Bool = false, timeout: Double = 30) throws {
        guard let binary = testTool("moto_server") else {
            throw TestComponentError("moto_server is missing: run .ci/setup (pip's moto[server])")
        }
        guard testTool("curl") != nil else { throw TestComponentError("curl is missing: run .ci/setup") }
        var lastProblem = ""
        for _ in 0..<8 {
            let port = UInt16.random(in: 20000...60000)
            guard isFreeLocalPort(port) else { continue }
            var environment = ProcessInfo.processInfo.environment
            if enforceAuth { environment["INITIAL_NO_AUTH_ACTION_COUNT"] = "0" }
            let process = try LaunchedProcess(
                [try Self.python(runningMoto: binary), packageDirectory.path + "/Tests/Fixtures/moto_checked.py", "127.0.0.1", String(port)],
                environment: environment)
            let deadline = Date().addingTimeInterval(timeout)
            var up = false
            while Date() < deadline && process.isRunning {
                let probe = try runCommandBlocking(URL(fileURLWithPath: "/usr/bin/env"),
                                           ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/"])
                if probe.stdout != "000" && !probe.stdout.isEmpty {
                    up = true
                    break
                }
                Thread.sleep(forTimeInterval: 0.1)
            }
            guard up else {
                lastProblem = "moto_server on port \(port) did not answer within \(timeout) s"
                process.signal(SIGKILL)
                process.wait()
                continue
            }
            self.port = port
            self.bucket = bucket
            self.process = process
            if !enforceAuth {
                let made = try runCommandBlocking(URL(fileURLWithPath: "/usr/bin/env"),
                                          ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "\(endpoint)/\(bucket)"])
                guard made.stdout == "200" else {
                    stop()
                    throw TestComponentError("moto did not make bucket \(bucket): HTTP \(made.stdout)")
                }
            }
            return
        }
        throw TestComponentError("cannot start moto_server: \(lastProblem)")
    }

    /// The python that has moto: the one `moto_server`'s `#!` line names (pip writes it), else
    /// the python3 beside it (a pyenv shim is a shell script next to pyenv's python3 shim).
    static func python(runningMoto binary: String) throws -> String {
        pythonLock.lock()
        defer { pythonLock.unlock() }
        if let known = pythons[binary] { return known }
        let found = try findPython(runningMoto: binary)
        pythons[binary] = found
        return found
    }

    private static let pythonLock = NSLock()
    nonisolated(unsafe) private static var pythons: [String: String] = [:]

    private static func findPython(runningMoto binary: String) throws -> String {
        let head = (try? FileHandle(forReadingFrom: URL(fileURLWithPath: binary)).readData(ofLength: 256)) ?? Data()
        let firstLine = String(decoding: head, as: UTF8.self).split(separator: "\n", maxSplits: 1).first.map(String.init) ?? ""
        var candidates: [String] = []
        if firstLine.hasPrefix("#!") {
            let words = firstLine.dropFirst(2).split(separator: " ").map(String.init)
            if let program = words.first, program.contains("python") { candidates.append(program) }
            if words.first == "/usr/bin/env", let program = words.dropFirst().first, program.contains("python"), let found = testTool(program) {
                candidates.append(found)
            }
        }
        candidates.append(URL(fileURLWithPath: binary).deletingLastPathComponent().appendingPathComponent("python3").path)
        for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate) {
            let probe = try runCommandBlocking(URL(fileURLWithPath: candidate), ["-c", "import moto.moto_server.werkzeug_app"])
            if probe.status == 0 { return candidate }
        }
        throw TestComponentError("no python with moto found for \(binary) (tried \(candidates.joined(separator: ", "))): run .ci/setup")
    }

    /// With `enforceAuth`: let the next `count` requests through without checking their
    /// credentials (moto's `/moto-api/reset-auth`), to set up what the test needs.
    public func allowUnauthenticated(_ count: Int) throws {
        let answer = try runCommandBlocking(URL(fileURLWithPath: "/usr/bin/env"),
                                            ["curl", "-s", "-X", "POST", "-H", "Content-Type: text/plain", "--data-binary", "\(count)",
                                             "\(endpoint)/moto-api/reset-auth"])
        guard answer.stdout.contains("\"ok\"") else { throw TestComponentError("moto's reset-auth failed: \(answer.stdout)\(answer.stderr)") }
    }

    /// With `enforceAuth`, after `allowUnauthenticated(4)`: the bucket, and an IAM user `name`
    /// allowed everything on S3, whose access key (id, secret) is returned. Four requests.
    public func makeBucketAndUser(_ name: String) throws -> (id: String, secret: String) {
        func call(_ arguments: [String]) throws -> String {
            let result = try runCommandBlocking(URL(fileURLWithPath: "/usr/bin/env"), ["curl", "-s"] + arguments)
            guard result.status == 0 else { throw TestComponentError("curl \(arguments): \(result.stderr)") }
            return result.stdout
        }
        _ = try call(["-X", "PUT", "\(endpoint)/\(bucket)"])
        // IAM's query API; moto picks the service from the credential scope (the signature is not
        // checked while requests are let through).
        let iam = ["-H", "Authorization: AWS4-HMAC-SHA256 Credential=AKIASETUP/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=00",
                   "-X", "POST", endpoint + "/", "--data-urlencode", "Version=2010-05-08", "--data-urlencode", "UserName=\(name)"]
        _ = try call(iam + ["--data-urlencode", "Action=CreateUser"])
        let key = try call(iam + ["--data-urlencode", "Action=CreateAccessKey"])
        let policy = #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#
        _ = try call(iam + ["--data-urlencode", "Action=PutUserPolicy", "--data-urlencode", "PolicyName=s3", "--data-urlencode", "PolicyDocument=\(policy)"])
        func field(_ tag: String) -> String? {
            key.components(separatedBy: "<\(tag)>").dropFirst().first?.components(separatedBy: "</\(tag)>").first
        }
        guard let id = field("AccessKeyId"), let secret = field("SecretAccessKey") else {
            throw TestComponentError("moto made no access key: \(key)")
        }
        return (id, secret)
    }

    /// Make the next `count` bodies that carry a CRC32 be refused with BadDigest, as if damaged
    /// on the way (moto_checked.py).
    public func damageNextBodies(_ count: Int) throws {
        _ = try runCommandBlocking(URL(fileURLWithPath: "/usr/bin/env"), ["curl", "-s", "\(endpoint)/nxa-checks?bad-digest-next=\(count)"])
    }

    /// The object names in the bucket (ListObjectsV2, through moto's unauthenticated mode).
    public func objectNames() throws -> [String] {
        let listed = try runCommandBlocking(URL(fileURLWithPath: "/usr/bin/env"), ["curl", "-s", "\(endpoint)/\(bucket)?list-type=2&max-keys=1000"])
        return listed.stdout.components(separatedBy: "<Key>").dropFirst().compactMap { $0.components(separatedBy: "</Key>").first }
            .map { $0.replacingOccurrences(of: "&amp;", with: "&") }
    }

    /// curl's arguments that sign a request with `environment`'s credentials: moto refuses an
    /// unsigned GET of an object a signed request stored (private ACL).
    static let signing = ["--aws-sigv4", "aws:amz:us-east-1:s3", "--user", "\(accessKey):\(secretKey)"]

    /// Replace object `name` with `data` (a PUT signed by curl).
    public func put(_ name: String, _ data: Data) throws {
        let sent = try rawPut(name, data, headers: [])
        guard sent.status == "200" else { throw TestComponentError("moto refused PUT \(name): HTTP \(sent.status)") }
    }

    /// Remove object `name` (a DELETE signed by curl).
    public func delete(_ name: String) throws {
        let encoded = name.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? name
        let sent = try runCommandBlocking(URL(fileURLWithPath: "/usr/bin/env"),
                                          ["curl", "-s"] + Self.signing + ["-o", "/dev/null", "-w", "%{http_code}", "-X", "DELETE", "\(endpoint)/\(bucket)/\(encoded)"])
        guard sent.stdout == "204" || sent.stdout == "200" else { throw TestComponentError("moto refused DELETE \(name): HTTP \(sent.stdout)") }
    }

    /// The bytes of object `name`.
    public func get(_ name: String) throws -> Data {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let file = temp.path + "/body"
        let encoded = name.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? name
        let got = try runCommandBlocking(URL(fileURLWithPath: "/usr/bin/env"),
                                 ["curl", "-s"] + Self.signing + ["-o", file, "-w", "%{http_code}", "\(endpoint)/\(bucket)/\(encoded)"])
        guard got.stdout == "200" else { throw TestComponentError("moto refused GET \(name): HTTP \(got.stdout)") }
        return try Data(contentsOf: URL(fileURLWithPath: file))
    }

    /// The next GET of an object whose name contains `text` replaces that object with `data` once
    /// its old bytes were read (moto_checked.py): another client's write between a reader's GET
    /// and its next request.
    public func replaceAfterGet(_ text: String, with data: Data) throws {
        let query = "replace-after-get=" + (text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text)
            + "&with=" + (data.base64EncodedString().addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
        _ = try runCommandBlocking(URL(fileURLWithPath: "/usr/bin/env"), ["curl", "-s", "\(endpoint)/nxa-checks?\(query)"])
    }

    /// How many bodies arrived with an `x-amz-checksum-crc32` that matched (moto_checked.py).
    public func checkedBodies() throws -> Int {
        let answer = try runCommandBlocking(URL(fileURLWithPath: "/usr/bin/env"), ["curl", "-s", "\(endpoint)/nxa-checks"])
        guard let value = answer.stdout.split(separator: "=").last.flatMap({ Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }) else {
            throw TestComponentError("moto_checked.py did not report its checks: \(answer.stdout.prefix(200))")
        }
        return value
    }

    /// A PUT of `data` with extra headers, signed by curl (it signs every header given); the
    /// HTTP status and the body of the answer.
    public func rawPut(_ name: String, _ data: Data, headers: [String]) throws -> (status: String, body: String) {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let file = temp.path + "/body"
        try data.write(to: URL(fileURLWithPath: file))
        let answer = temp.path + "/answer"
        let encoded = name.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? name
        let sent = try runCommandBlocking(URL(fileURLWithPath: "/usr/bin/env"),
                                          // A body type of its own: curl's --data-binary would send a form's, and moto keeps no body then.
                                          ["curl", "-s"] + Self.signing + ["-H", "Content-Type: application/octet-stream"] + headers.flatMap { ["-H", $0] } +
                                          ["-o", answer, "-w", "%{http_code}", "-X", "PUT", "--data-binary", "@" + file, "\(endpoint)/\(bucket)/\(encoded)"])
        return (sent.stdout, (try? String(contentsOfFile: answer, encoding: .utf8)) ?? "")
    }

    public func stop() {
        lock.lock()
        defer { lock.unlock() }
        guard !stopped else { return }
        stopped = true
        process.signal(SIGTERM)
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        process.signal(SIGKILL)
        process.wait()
    }

    deinit { stop() }
}

/// Tests/Fixtures/s3_proxy.py in front of a `MotoServer`, on 127.0.0.1: it reads request bodies
/// slowly (`throttle`), takes an entry's data and never answers (`stallData`), or sends half of
/// an entry's data and then nothing (`stallGetData`). Call `stop()`.
public final class S3Proxy: @unchecked Sendable {
    public enum Mode: Sendable {
        case throttle(bytesPerSecond: Int)
        case stallData
        case stallGetData
    }

    public let port: UInt16
    public var endpoint: String { "http://127.0.0.1:\(port)" }
    private let process: LaunchedProcess

    public init(in front: MotoServer, _ mode: Mode) throws {
        guard let python = testTool("python3") else { throw TestComponentError("python3 is missing") }
        var chosen: UInt16 = 0
        repeat { chosen = UInt16.random(in: 20000...60000) } while !isFreeLocalPort(chosen)
        port = chosen
        var arguments = [python, packageDirectory.path + "/Tests/Fixtures/s3_proxy.py", String(chosen), String(front.port)]
        switch mode {
        case .throttle(let rate): arguments += ["throttle", String(rate)]
        case .stallData: arguments += ["stall-data"]
        case .stallGetData: arguments += ["stall-get-data"]
        }
        process = try LaunchedProcess(arguments, environment: ProcessInfo.processInfo.environment)
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline && process.isRunning && isFreeLocalPort(chosen) { Thread.sleep(forTimeInterval: 0.05) }
        guard process.isRunning, !isFreeLocalPort(chosen) else {
            stop()
            throw TestComponentError("s3_proxy.py did not start on port \(chosen)")
        }
    }

    public func stop() {
        process.signal(SIGKILL)
        process.wait()
    }

    deinit { stop() }
}
