import Foundation
import NixActionsProcessKit
import Synchronization
import Testing
import TestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// `PrivateFolder`: a run's folder is made under a hidden name, locked, then renamed into place.
@Suite("Private folders: made fresh, whatever another user does in the same folder")
struct PrivateFolderTests {
    @Test("another user who watches the folder (inotify) and takes the final name as the made one appears does not stop a run: the final name is drawn anew (audit 60: every run failed with 'File exists')")
    func finalNameNotGuessable() throws {
        let base = try TemporaryDirectory()
        defer { base.remove() }
        let prefix = "nixactions-race-"
        // The attacker: on each `.PREFIXxxxxxx` made, make `PREFIXxxxxxx` at once.
        let watch = inotify_init1(Int32(IN_CLOEXEC))
        try #require(watch >= 0)
        try #require(inotify_add_watch(watch, base.path, UInt32(IN_CREATE)) >= 0)
        let taken = Atomic<Int>(0)
        let stop = Atomic<Bool>(false)
        let attacker = Thread {
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            while !stop.load(ordering: .relaxed) {
                let count = buffer.withUnsafeMutableBytes { read(watch, $0.baseAddress, $0.count) }
                guard count > 0 else { return }
                var offset = 0
                while offset < count {
                    let (length, name) = buffer.withUnsafeBytes { raw -> (Int, String) in
                        let event = raw.baseAddress!.advanced(by: offset).assumingMemoryBound(to: inotify_event.self)
                        let nameStart = raw.baseAddress!.advanced(by: offset + MemoryLayout<inotify_event>.size).assumingMemoryBound(to: CChar.self)
                        return (Int(event.pointee.len), event.pointee.len > 0 ? String(cString: nameStart) : "")
                    }
                    if name.hasPrefix("." + prefix), mkdir(base.path + "/" + name.dropFirst(), 0o700) == 0 { taken.add(1, ordering: .relaxed) }
                    offset += MemoryLayout<inotify_event>.size + length
                }
            }
        }
        attacker.start()
        var made: [PrivateFolder] = []
        var failures: [String] = []
        for _ in 0..<200 {
            do { made.append(try PrivateFolder(base: base.path, prefix: prefix)) } catch { failures.append("\(error)") }
        }
        stop.store(true, ordering: .relaxed)
        _ = mkdir(base.path + "/wake", 0o700)  // one more event ends the attacker's read
        usleep(50_000)
        close(watch)
        #expect(failures.isEmpty, "\(failures.count) of 200 failed: \(failures.prefix(3))")
        #expect(taken.load(ordering: .relaxed) > 0, "the attacker never took a name")
        for folder in made {
            var info = stat()
            #expect(lstat(folder.path + "/" + PrivateFolder.lockName, &info) == 0, "\(folder.path) is not the run's own")
            folder.remove()
        }
    }
}
