import Foundation

/// Where SwiftPM put the built products (the test binary lives next to them).
public let productsDirectory: URL = {
    URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
}()

/// The package's root folder.
public let packageDirectory: URL = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url
}()

/// The built `nixactions` executable.
public var nixactionsBinary: URL { productsDirectory.appendingPathComponent("nixactions") }

/// A built library product, e.g. `library("nixactions-plugin-local")`.
public func library(_ product: String) -> URL {
    productsDirectory.appendingPathComponent("lib\(product).so")
}

/// A fresh private temporary folder, removed by `remove()`.
public struct TemporaryDirectory: Sendable {
    public let url: URL
    public var path: String { url.path }

    public init() throws {
        var template = Array(FileManager.default.temporaryDirectory.appendingPathComponent("nixactions-test-XXXXXX").path.utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw CocoaError(.fileWriteUnknown)
        }
        url = URL(fileURLWithPath: String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }

    public func remove() { try? FileManager.default.removeItem(at: url) }

    /// Write `text` to `name` (creating folders) and return its path.
    @discardableResult
    public func write(_ name: String, _ text: String) throws -> String {
        let file = url.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    /// Copy built library products into `folder` under plugin file names (`libnixactions-plugin-NAME.so`).
    public func pluginFolder(_ products: [String: String], in folder: String = "plugins") throws -> String {
        let target = url.appendingPathComponent(folder)
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
        for (name, product) in products {
            let destination = target.appendingPathComponent("libnixactions-plugin-\(name).so")
            try? FileManager.default.removeItem(at: destination)
            try FileManager.default.copyItem(at: library(product), to: destination)
        }
        return target.path
    }
}

/// What a finished command printed and how it exited.
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Run `executable` with `arguments` to completion.
public func runCommand(
    _ executable: URL, _ arguments: [String], in directory: String? = nil, environment: [String: String] = [:],
    removing: [String] = []
) throws -> CommandResult {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    var env = ProcessInfo.processInfo.environment
    env.removeValue(forKey: "NIXACTIONS_PLUGIN_PATH")
    for name in removing { env.removeValue(forKey: name) }
    env.merge(environment) { _, new in new }
    process.environment = env
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    // Read both pipes concurrently so a full pipe never blocks the child.
    nonisolated(unsafe) var errData = Data()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
        errData = err.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    return CommandResult(
        status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
        stderr: String(decoding: errData, as: UTF8.self))
}

/// Run the built `nixactions`.
public func nixactions(
    _ arguments: [String], in directory: String? = nil, environment: [String: String] = [:]
) throws -> CommandResult {
    try runCommand(nixactionsBinary, arguments, in: directory, environment: environment)
}

/// Whether `pid` is a running process (a zombie waiting to be reaped counts as gone).
public func isRunning(_ pid: pid_t) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else { return false }
    let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first
    return state != "Z" && state != "X"
}

/// The bytes a job's steps wrote on `stream` ("stdout" or "stderr"), rebuilt from a run's log
/// folder: the `output` events of `events.jsonl` reference ranges of `<job>.log`.
public func loggedOutput(folder: String, job: String, stream: String, step: Int? = nil) throws -> [UInt8] {
    try loggedOutputs(folder: folder, step: step)[job]?[stream] ?? []
}

/// Every job's output by stream (`[job: ["stdout": bytes, "stderr": bytes]]`), parsing the events once.
public func loggedOutputs(folder: String, step: Int? = nil) throws -> [String: [String: [UInt8]]] {
    let events = try String(contentsOfFile: folder + "/events.jsonl", encoding: .utf8)
    var logs: [String: [UInt8]] = [:]
    var result: [String: [String: [UInt8]]] = [:]
    for line in events.split(separator: "\n") {
        guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              object["event"] as? String == "output", let job = object["job"] as? String,
              let stream = object["stream"] as? String,
              let offset = object["offset"] as? Int, let length = object["length"] as? Int
        else { continue }
        if let step, object["step"] as? Int != step { continue }
        if logs[job] == nil { logs[job] = [UInt8](try Data(contentsOf: URL(fileURLWithPath: folder + "/" + job + ".log"))) }
        let log = logs[job] ?? []
        guard offset >= 0, offset + length <= log.count else {
            throw NSError(domain: "loggedOutput", code: 1, userInfo: [NSLocalizedDescriptionKey: "event points past the log: \(line)"])
        }
        result[job, default: [:]][stream, default: []] += log[offset..<(offset + length)]
    }
    return result
}

/// Start the built `nixactions` in the background (stdin from /dev/null, output to `output` or
/// discarded), with the test's environment less `NIXACTIONS_PLUGIN_PATH`, plus `environment`.
public func launchNixactions(
    _ arguments: [String], in directory: String, environment: [String: String] = [:], output: FileHandle? = nil
) throws -> Process {
    let process = Process()
    process.executableURL = nixactionsBinary
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: directory)
    var env = ProcessInfo.processInfo.environment
    env.removeValue(forKey: "NIXACTIONS_PLUGIN_PATH")
    env.merge(environment) { _, new in new }
    process.environment = env
    process.standardOutput = output ?? FileHandle.nullDevice
    process.standardError = output ?? FileHandle.nullDevice
    process.standardInput = FileHandle.nullDevice
    try process.run()
    return process
}
