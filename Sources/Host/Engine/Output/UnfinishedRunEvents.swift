import Foundation
import NixActionsProcessKit

#if canImport(Glibc)
    import Glibc
#endif

/// The closing events of a run whose host could not write them: it died (SIGKILL, a crash) or a
/// second signal stopped it at once. The run's supervisor calls `close` once the host is gone, so
/// that a reader of `events.jsonl` (a live view, a report, `RunState.replay`) can tell a dead run
/// from a running one: every step and job started and not finished gets its `step_finished` /
/// `job_finished`, each job of the plan that never started a `job_finished` (`cancelled`, "not
/// started: …"), then the run its `workflow_finished`, each with a `message` saying why.
///
/// The file is read once, in 1 MiB pieces; only the start and end events are decoded (an
/// `output` event is recognised by its name and skipped). Other lines are held up to 1 MiB, so
/// memory stays flat whatever the output; a start or end event is read whole however long it is
/// (a `planned` event of 20,000 jobs, a `step_finished` with its outputs: the host held as much).
/// A last line the host did not finish writing is cut off first, so that every line is whole
/// JSON. A file that already holds `workflow_finished` is left as it is.
public enum UnfinishedRunEvents {
    /// Close the events of `path` with `status`; returns how many events were appended (0: nothing
    /// to do, or the file is not this user's regular file, or cannot be read).
    ///
    /// `streamed` is given the same closing events, but for the one referencing the log's
    /// unreferenced tail, for the run's `--log-format json` standard output, which would otherwise
    /// end without saying how the run ended (audit 64 events M3; `writeStream`).
    ///
    /// The file is locked while it is read and written: the run's supervisor and another run's
    /// sweep of a dead run may both come to it (review 65 M1).
    @discardableResult
    public static func close(file path: String, status: Outcome, message: String, streamed: ((String) -> Void)? = nil) -> Int {
        let fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return 0 }
        defer { Glibc.close(fd) }
        while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, info.st_uid == geteuid() else { return 0 }
        // The room its writer kept ahead of the file's end (`BufferedWriter.Recovery.records`)
        // goes back, whatever the file's end turns out to be.
        defer {
            var now = stat()
            if fstat(fd, &now) == 0 { BufferedWriter.release(fd, from: UInt64(now.st_size), length: 4 << 20) }
        }

        var scan = Scan()
        var pending: [UInt8] = []  // the start of a line a piece's end cut
        var pendingCut = false  // a line over 1 MiB that is not a start or end event: skipped
        var offset = 0  // bytes read before this piece
        var consumed = 0  // bytes of the file up to the end of its last whole line
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count < 0 { return 0 }
            if count == 0 { break }
            var start = 0
            for index in 0..<count where buffer[index] == 0x0A {
                if pending.isEmpty && !pendingCut {
                    scan.line(buffer[start..<index])
                } else {
                    if !pendingCut { scan.line((pending + buffer[start..<index])[...]) }
                    pending.removeAll(keepingCapacity: true)
                    pendingCut = false
                }
                start = index + 1
                consumed = offset + start
            }
            if start < count && !pendingCut {
                // The line's first bytes name its event (they may be split between two pieces).
                let head = pending.count >= 96 ? pending[...] : (pending + buffer[start..<min(count, start + 96)])[...]
                if pending.count + (count - start) <= 1 << 20 || eventName(head).map(Scan.decodes) == true {
                    pending += buffer[start..<count]
                } else {
                    pendingCut = true
                    pending = []
                }
            }
            offset += count
        }
        guard !scan.finished else { return 0 }
        // A last line the host did not finish: cut off, so that every line is whole JSON.
        if offset > consumed { _ = ftruncate(fd, off_t(consumed)) }

        let now = nowMilliseconds()
        func since(_ stamp: String?) -> Int? { stamp.flatMap(milliseconds).map { max(0, now - $0) } }
        var text = ""
        var streamText = ""  // the stream's: text but its recovered output events
        var appended = 0
        func append(_ event: JSONObjectWriter, streamed: Bool = true) {
            var event = event
            let line = event.finish() + "\n"
            text += line
            if streamed { streamText += line }
            appended += 1
        }
        let folder = PathText.parent(path)
        for key in scan.jobOrder {
            guard let job = scan.openJobs[key] else { continue }
            // What the open step wrote to the job's log after the last `output` event (audit 51
            // L6: 10 MB after a SIGKILL were in the log and in no event).
            if let step = scan.openSteps[key]?.keys.max(),
               let tail = unreferencedTail(log: folder + "/" + key + ".log", from: scan.logEnd[key] ?? 0,
                                           hostLines: scan.linesSinceOutput[key] ?? 0) {
                var event = JSONObjectWriter()
                event.add("ts", Timestamp.now()); event.add("event", "output"); event.add("job", key); event.add("step", step)
                event.add("stream", "stdout"); event.add("offset", tail.offset); event.add("length", tail.length)
                event.add("lines", tail.lines); event.add("recovered", true)
                append(event, streamed: false)  // a reference into the log: events.jsonl's form only
            }
            for index in (scan.openSteps[key] ?? [:]).keys.sorted() {
                let step = scan.openSteps[key]![index]!
                var event = JSONObjectWriter()
                event.add("ts", Timestamp.now()); event.add("event", "step_finished"); event.add("job", key)
                event.add("step", index); event.add("name", step.name); event.add("status", status.rawValue)
                event.add("exit_code", nil as Int?); event.add("duration_ms", since(step.started)); event.add("message", message)
                append(event)
            }
            var event = JSONObjectWriter()
            event.add("ts", Timestamp.now()); event.add("event", "job_finished"); event.add("job", key); event.add("name", job.name)
            event.add("status", status.rawValue); event.add("duration_ms", since(job.started)); event.add("message", message)
            append(event)
        }
        // Jobs of the plan that never started: cancelled (they did not fail), each said so.
        for key in scan.order where scan.openJobs[key] == nil && !scan.finishedJobs.contains(key) {
            var event = JSONObjectWriter()
            event.add("ts", Timestamp.now()); event.add("event", "job_finished"); event.add("job", key); event.add("name", scan.names[key] ?? key)
            event.add("status", Outcome.cancelled.rawValue); event.add("duration_ms", 0); event.add("message", "not started: " + message)
            append(event)
        }
        var event = JSONObjectWriter()
        event.add("ts", Timestamp.now()); event.add("event", "workflow_finished"); event.add("workflow", scan.workflow ?? "")
        event.add("status", status.rawValue); event.add("duration_ms", since(scan.started)); event.add("message", message)
        append(event)
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(consumed)) }
        streamed?(streamText)
        return written == bytes.count ? appended : 0
    }

    /// `text` written to `stream` within `limit`: in pieces of at most PIPE_BUF, each once `poll`
    /// says the stream takes one, so that a reader that does not read cannot hold the caller (review
    /// 65 H1); a reader gone, a failure or the limit passed end it quietly (events.jsonl holds it
    /// all). A regular file whose last byte is not a line end (the host killed mid-line) gets one
    /// first, so that each event is a line of its own (read through /proc: the stream is opened
    /// for writing only).
    public static func writeStream(_ text: String, to stream: Int32, within limit: Duration) {
        var bytes = Array(text.utf8)
        var info = stat()
        if fstat(stream, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, info.st_size > 0 {
            let reading = open("/proc/self/fd/\(stream)", O_RDONLY | O_CLOEXEC)
            if reading >= 0 {
                var last: UInt8 = 0
                if pread(reading, &last, 1, info.st_size - 1) == 1, last != 0x0A { bytes.insert(0x0A, at: 0) }
                Glibc.close(reading)
            }
        }
        let deadline = ContinuousClock.now + limit
        var done = 0
        while done < bytes.count {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { return }
            var ready = pollfd(fd: stream, events: Int16(POLLOUT), revents: 0)
            let waited = poll(&ready, 1, Int32(max(1, left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000)))
            if waited < 0 && errno == EINTR { continue }
            guard waited > 0, ready.revents & Int16(POLLOUT) != 0 else { return }
            let piece = min(bytes.count - done, Int(PIPE_BUF))
            let count = bytes.withUnsafeBytes { write(stream, $0.baseAddress! + done, piece) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { return }
            done += count
        }
    }

    /// The bytes of `log` from `offset` to its end, past the host's own lines there (each starts
    /// with a timestamp and a space: the step's start line, the previous step's end): the output
    /// no event references. nil when there is none.
    ///
    /// At most `hostLines` lines are taken for the host's: as many as its events after the job's
    /// last `output` event can have written (a host line whose event was not written yet is taken
    /// for output: nothing is lost either way). Output whose lines start
    /// with a timestamp of the same form (many tools print one) is output after those (audit 61
    /// M2: megabytes of such output were passed over as the host's).
    static func unreferencedTail(log: String, from offset: Int, hostLines: Int = .max) -> (offset: Int, length: Int, lines: Int)? {
        let fd = open(log, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, Int(info.st_size) > offset else { return nil }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var position = offset  // where the next piece starts
        var start: Int?  // where the output starts, once the host lines before it are passed
        var lines = 0
        var lineStart = offset
        var skipped = 0
        while true {
            let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(position)) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            for index in 0..<count {
                let at = position + index
                if start == nil, at == lineStart {
                    // A line's first byte: a host line when a timestamp begins it (read from here),
                    // while the host can have written one there.
                    let host = skipped < hostLines && Self.startsWithTimestamp(fd: fd, at: at)
                    if host { skipped += 1 } else { start = at }
                }
                if buffer[index] == 0x0A {
                    if start != nil { lines += 1 }
                    lineStart = at + 1
                }
            }
            position += count
        }
        guard let start, position > start else { return nil }
        return (start, position - start, lines)
    }

    /// Whether the bytes at `offset` are `YYYY-MM-DDTHH:MM:SS.mmmZ ` (a host line of a job log).
    static func startsWithTimestamp(fd: Int32, at offset: Int) -> Bool {
        var head = [UInt8](repeating: 0, count: 25)
        let count = head.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 25, off_t(offset)) }
        guard count == 25, head[24] == 0x20 else { return false }
        return milliseconds(String(decoding: head[0..<24], as: UTF8.self)) != nil
            && head[4] == 0x2D && head[10] == 0x54 && head[23] == 0x5A
    }

    private struct OpenStep { var name: String; var started: String? }
    private struct OpenJob { var name: String; var started: String? }

    /// What the lines read so far left open.
    private struct Scan {
        var workflow: String?
        var started: String?
        var finished = false
        var jobOrder: [String] = []
        var openJobs: [String: OpenJob] = [:]
        var openSteps: [String: [Int: OpenStep]] = [:]
        /// The plan's keys (`planned`, with called jobs and matrix instances in place), the jobs
        /// that finished, and the names of those that started.
        var order: [String] = []
        var finishedJobs: Set<String> = []
        var names: [String: String] = [:]
        /// Per job, the end of the last range of its log an `output` event references.
        var logEnd: [String: Int] = [:]
        /// Per job: its events since its last `output` event that wrote a host line to its log.
        var linesSinceOutput: [String: Int] = [:]

        /// An `output` event's job and the end of its range, read from its bytes without decoding
        /// the whole line (there is one per piece of output): `"job":"…"`, `"offset":N`, `"length":N`.
        mutating func output(_ bytes: ArraySlice<UInt8>) {
            func after(_ key: String) -> ArraySlice<UInt8>.Index? {
                let marker = Array(key.utf8)
                var index = bytes.startIndex
                while index + marker.count <= bytes.endIndex {
                    if bytes[index] == marker[0], bytes[index..<index + marker.count].elementsEqual(marker) { return index + marker.count }
                    index += 1
                }
                return nil
            }
            func number(_ key: String) -> Int? {
                guard var index = after(key) else { return nil }
                var value = 0
                var digits = 0
                while index < bytes.endIndex, bytes[index] >= 0x30, bytes[index] <= 0x39, digits < 18 {
                    value = value * 10 + Int(bytes[index] - 0x30)
                    index += 1
                    digits += 1
                }
                return digits > 0 ? value : nil
            }
            guard let start = after(#""job":""#), let offset = number(#""offset":"#), let length = number(#""length":"#) else { return }
            var key: String
            if let end = bytes[start...].firstIndex(of: UInt8(ascii: "\"")), !bytes[start..<end].contains(UInt8(ascii: "\\")) {
                key = String(decoding: bytes[start..<end], as: UTF8.self)
            } else {
                // An escaped name: decoded properly (rare).
                guard let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any],
                      let job = object["job"] as? String else { return }
                key = job
            }
            logEnd[key] = max(logEnd[key] ?? 0, offset + length)
            linesSinceOutput[key] = 0
        }

        /// The names the plan gives its jobs (`details`).
        mutating func named(_ object: [String: Any]) {
            for case let detail as [String: Any] in object["details"] as? [Any] ?? [] {
                if let key = detail["job"] as? String, let name = detail["name"] as? String { names[key] = name }
            }
        }

        /// The events `line` decodes.
        static func decodes(_ name: String) -> Bool {
            switch name {
            case "workflow_started", "job_started", "job_finished", "step_started", "step_finished", "workflow_finished",
                 "planned", "call_started", "matrix_expanded", "message", "annotation", "step_retrying": true
            default: false
            }
        }

        mutating func line(_ bytes: ArraySlice<UInt8>) {
            guard let name = UnfinishedRunEvents.eventName(bytes) else { return }
            if name == "output" { return output(bytes) }
            guard Self.decodes(name) else { return }
            guard let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] else { return }
            let ts = object["ts"] as? String
            switch name {
            case "workflow_started":
                workflow = object["workflow"] as? String
                started = ts
            case "workflow_finished":
                finished = true
            case "planned":
                order = object["jobs"] as? [String] ?? []
                named(object)
            case "call_started":
                guard let key = object["job"] as? String, let jobs = object["jobs"] as? [String] else { return }
                if let index = order.firstIndex(of: key) { order.insert(contentsOf: jobs, at: index + 1) } else { order += jobs }
            case "matrix_expanded":
                guard let key = object["job"] as? String, let jobs = object["jobs"] as? [String] else { return }
                if let index = order.firstIndex(of: key) { order.replaceSubrange(index...index, with: jobs) }
                named(object)
            case "job_started":
                guard let key = object["job"] as? String else { return }
                if openJobs[key] == nil { jobOrder.append(key) }
                openJobs[key] = OpenJob(name: object["name"] as? String ?? key, started: ts)
                names[key] = object["name"] as? String
            case "job_finished":
                guard let key = object["job"] as? String else { return }
                openJobs[key] = nil
                openSteps[key] = nil
                finishedJobs.insert(key)
            case "step_started":
                guard let key = object["job"] as? String, let index = object["step"] as? Int else { return }
                linesSinceOutput[key, default: 0] += 1
                openSteps[key, default: [:]][index] = OpenStep(name: object["name"] as? String ?? "", started: ts)
            case "step_finished":
                guard let key = object["job"] as? String, let index = object["step"] as? Int else { return }
                linesSinceOutput[key, default: 0] += 1
                openSteps[key]?[index] = nil
            case "message", "annotation", "step_retrying":
                // A job's message, annotation or retry is a line of its log too.
                if let key = object["job"] as? String { linesSinceOutput[key, default: 0] += 1 }
            default: break
            }
        }
    }

    /// The event's name, from its first characters (`{"ts":"…","event":"NAME"`): every line the
    /// host writes starts so.
    static func eventName(_ bytes: ArraySlice<UInt8>) -> String? {
        let marker = Array(#","event":""#.utf8)
        let head = bytes.prefix(96)
        guard head.count > marker.count else { return nil }
        var index = head.startIndex
        while index + marker.count <= head.endIndex {
            if head[index..<index + marker.count].elementsEqual(marker) {
                let start = index + marker.count
                guard let end = head[start...].firstIndex(of: UInt8(ascii: "\"")) else { return nil }
                return String(decoding: head[start..<end], as: UTF8.self)
            }
            index += 1
        }
        return nil
    }

    /// Milliseconds since the epoch of a `Timestamp` (`YYYY-MM-DDTHH:MM:SS.mmmZ`).
    static func milliseconds(_ stamp: String) -> Int? {
        let digits = Array(stamp.utf8)
        guard digits.count == 24 else { return nil }
        func number(_ from: Int, _ count: Int) -> Int32? {
            var value: Int32 = 0
            for byte in digits[from..<from + count] {
                guard byte >= 0x30 && byte <= 0x39 else { return nil }
                value = value * 10 + Int32(byte - 0x30)
            }
            return value
        }
        guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2), let hour = number(11, 2),
              let minute = number(14, 2), let second = number(17, 2), let milli = number(20, 3) else { return nil }
        var parts = tm()
        parts.tm_year = year - 1900; parts.tm_mon = month - 1; parts.tm_mday = day
        parts.tm_hour = hour; parts.tm_min = minute; parts.tm_sec = second
        return Int(timegm(&parts)) * 1000 + Int(milli)
    }

    static func nowMilliseconds() -> Int {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return spec.tv_sec * 1000 + spec.tv_nsec / 1_000_000
    }
}
