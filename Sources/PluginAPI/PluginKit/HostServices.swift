import CNixActionsPlugin

#if canImport(Glibc)
    import Glibc
#endif

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

    /// Register a value that must never appear in any output, as bytes (a value that is not
    /// UTF-8 is masked as those bytes).
    public func registerSecret(bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { raw.pointee.register_secret(raw.pointee.host_data, $0.baseAddress, $0.count) }
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

    /// Whether the host has the ABI 1.2 services (deadlines, secret values, operation logs).
    public var hasABI12: Bool { nxa_host_services_has_v1_2(raw) }

    /// The operation's deadline (CLOCK_MONOTONIC nanoseconds), or nil when it has none.
    public func deadline(_ op: UInt64) -> UInt64? {
        guard hasABI12, let function = raw.pointee.op_deadline else { return nil }
        let value = function(raw.pointee.host_data, op)
        return value == 0 ? nil : value
    }

    /// Seconds left before the operation's deadline (nil: none).
    public func remainingSeconds(_ op: UInt64) -> Double? {
        guard let deadline = deadline(op) else { return nil }
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let current = UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
        return deadline > current ? Double(deadline - current) / 1e9 : 0
    }

    /// A line about the operation `op`, for whoever reads the run's log (redacted by the host).
    public func log(_ op: UInt64, _ level: LogLevel, _ message: String) {
        guard hasABI12, let function = raw.pointee.log_op else { return log(level, message) }
        var message = message
        message.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { function(raw.pointee.host_data, op, level.rawValue, $0.baseAddress, $0.count) }
        }
    }

    func secretValue(_ op: UInt64, name: String, _ value: [UInt8]) -> nxa_status {
        guard hasABI12, let function = raw.pointee.secret_value else { return NXA_STATUS_UNSUPPORTED }
        var name = name
        return name.withUTF8 { nameBytes in
            nameBytes.withMemoryRebound(to: CChar.self) { chars in
                value.withUnsafeBufferPointer { function(raw.pointee.host_data, op, chars.baseAddress, chars.count, $0.baseAddress, $0.count) }
            }
        }
    }

    func write(_ op: UInt64, stream: Int32, _ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        raw.pointee.write_output(
            raw.pointee.host_data, op, stream, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count)
    }

    /// Whether the host has the ABI 1.3 service `complete_here`.
    public var hasABI13: Bool { nxa_host_services_has_v1_3(raw) }

    /// - Parameter here: complete with `complete_here` (ABI 1.3) when the host has it: the host
    ///   may go on with the waiting job on this thread, and call this plugin, before it returns.
    ///   Only where no lock of the plugin's is held and the thread may be kept (see host.h).
    func complete(_ op: UInt64, status: nxa_status, result: [UInt8], here: Bool = false) {
        result.withUnsafeBufferPointer { buffer in
            if here, hasABI13, let function = raw.pointee.complete_here {
                function(raw.pointee.host_data, op, status, buffer.baseAddress, buffer.count)
            } else {
                raw.pointee.complete(raw.pointee.host_data, op, status, buffer.baseAddress, buffer.count)
            }
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

    /// A line about this operation for the run's log (never a secret value; redacted anyway).
    public func log(_ level: HostServices.LogLevel, _ message: String) {
        host.log(id, level, message)
    }

    /// Seconds left before this operation's deadline, or nil when it has none.
    public var remainingSeconds: Double? { host.remainingSeconds(id) }

    /// Whether the host has cancelled this operation or the whole run.
    /// A 1.2 host answers for the operation alone (cleanup is never cancelled, even while the
    /// run is); a 1.1 host is asked about the run too.
    public var isCancelled: Bool { host.isCancelled(id) || (!host.hasABI12 && host.isCancelled(0)) }
}
