import CNixActionsPlugin

/// The host's services as the plugin sees them (a thin Swift face on `nxa_host_services`).
///
/// Valid for the life of the process. Every method is thread-safe.
public struct HostServices: @unchecked Sendable {
    let raw: UnsafePointer<nxa_host_services>

    init(_ raw: UnsafePointer<nxa_host_services>) {
        self.raw = raw
    }

    /// Log levels, as in nixactions/types.h.
    public enum LogLevel: Int32, Sendable {
        case debug = 0, info = 1, warning = 2, error = 3
    }

    /// Log a message about the plugin itself (step output goes through `OperationContext.write`).
    public func log(_ level: LogLevel, _ message: String) {
        var message = message
        message.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { chars in
                raw.pointee.log(raw.pointee.host_data, level.rawValue, chars.baseAddress, chars.count)
            }
        }
    }

    /// Register a value that must never appear in any output.
    public func registerSecret(_ value: String) {
        var value = value
        value.withUTF8 { bytes in
            raw.pointee.register_secret(raw.pointee.host_data, bytes.baseAddress, bytes.count)
        }
    }

    /// Whether the run (op 0) or the operation `op` has been cancelled.
    public func isCancelled(_ op: UInt64 = 0) -> Bool {
        raw.pointee.is_cancelled(raw.pointee.host_data, op)
    }

    func write(_ op: UInt64, stream: Int32, _ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        raw.pointee.write_output(
            raw.pointee.host_data, op, stream, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count)
    }

    func complete(_ op: UInt64, status: nxa_status, result: [UInt8]) {
        result.withUnsafeBufferPointer { buffer in
            raw.pointee.complete(raw.pointee.host_data, op, status, buffer.baseAddress, buffer.count)
        }
    }
}

/// Which stream output belongs to.
public enum OutputStreamKind: Int32, Sendable {
    case stdout = 1
    case stderr = 2
}

/// One asynchronous operation (a job start, a step): where its output goes.
public struct OperationContext: Sendable {
    /// The host's number for the operation.
    public let id: UInt64
    /// The host's services.
    public let host: HostServices

    /// Send output bytes of this operation to the host (copied; the host redacts them).
    public func write(_ bytes: UnsafeRawBufferPointer, to stream: OutputStreamKind = .stdout) {
        host.write(id, stream: stream.rawValue, bytes)
    }

    /// Send a string of output.
    public func write(_ text: String, to stream: OutputStreamKind = .stdout) {
        var text = text
        text.withUTF8 { host.write(id, stream: stream.rawValue, UnsafeRawBufferPointer($0)) }
    }

    /// Whether the host has cancelled this operation or the whole run.
    public var isCancelled: Bool { host.isCancelled(id) || host.isCancelled(0) }
}
