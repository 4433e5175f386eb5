/// An immutable multi-pattern automaton (Aho–Corasick over bytes) for every registered form of
/// every secret. Built once per registry version; shared by streams and `Redactor.redact`.
///
/// Layout, for speed with thousands of patterns:
/// - bytes map to classes (the bytes that occur in patterns; all others share class 0);
/// - the root and the depth-1 states have dense transition rows (complete DFA transitions);
///   deeper states keep sparse edges plus a failure link;
/// - a q-gram filter (q = min(4, shortest pattern)) says at which positions a pattern may begin,
///   so that at the root the scanner skips positions with one hash probe each, and leaves the
///   automaton as soon as no position inside the current state's window can begin a match;
/// - at the root, a shift table over the same q-grams (Wu–Manber) first skips whole stretches:
///   with m the shortest pattern, the q-gram that ends the m-byte window at position i says how
///   far the window can move without passing the start of any pattern (see `shift`); the grams
///   of four windows are looked up at once, each as if the ones before it moved the full shift;
/// - the trie is built from the patterns in byte order, each sharing its longest common prefix
///   with the previous one (no hash table).
///
/// Wrapped (base64) patterns: CR and LF never occur in patterns. On a CR/LF byte, a state drops
/// to the deepest state of its failure chain that is a prefix of a wrapped pattern (so wrapped
/// patterns continue across the line break and all others die); a run of three CR/LF bytes
/// resets to the root. A literal match whose span contains a CR/LF is discarded at report time.
final class RedactionAutomaton: @unchecked Sendable {
    static let empty = RedactionAutomaton(patterns: [])

    let patterns: [RedactionPattern]
    let isEmpty: Bool
    /// Longest pattern, in pattern bytes.
    let maxLength: Int
    let nodeCount: Int
    let classCount: Int
    /// States `0..<denseCount` (the root and depth 1) have dense rows.
    let denseCount: Int32

    let classOf: UnsafeMutablePointer<UInt8>
    let dense: UnsafeMutablePointer<Int32>
    let fail: UnsafeMutablePointer<Int32>
    let depth: UnsafeMutablePointer<Int32>
    let edgeStart: UnsafeMutablePointer<Int32>
    let edgeClass: UnsafeMutablePointer<UInt8>
    let edgeTarget: UnsafeMutablePointer<Int32>
    /// Nearest state in the failure chain (itself included) where a pattern ends, or -1.
    let output: UnsafeMutablePointer<Int32>
    let patternLength: UnsafeMutablePointer<Int32>
    let patternWrapped: UnsafeMutablePointer<UInt8>
    let crlfNext: UnsafeMutablePointer<Int32>
    let filter: UnsafeMutablePointer<UInt64>
    let filterShift: UInt32
    let gramMask: UInt32
    /// Wu–Manber shifts by q-gram hash (nil when the shortest pattern is too short to skip by).
    let shift: UnsafeMutablePointer<UInt8>?
    let shiftBits: UInt32
    /// The shortest pattern's length: the window the shift table is for.
    let window: Int
    /// The shift of a window whose last q-gram occurs in no pattern (the table's default).
    let fullShift: Int
    /// Whether any pattern is wrapped: then a q-gram with CR or LF may lie inside a match.
    let anyWrapped: Bool
    /// Bytes of memory held by the tables.
    let memoryFootprint: Int

    init(patterns input: [RedactionPattern]) {
        // Sorted by bytes, duplicates merged: a pattern that is also wrapped matches as wrapped (a
        // superset). Sorting first lets the trie be built without a hash table (below).
        var sorted = input.filter {
            $0.bytes.count >= Redactor.minimumLength && !$0.bytes.contains(10) && !$0.bytes.contains(13)
        }
        sorted.sort { Self.compare($0.bytes, $1.bytes) < 0 }
        var patterns: [RedactionPattern] = []
        patterns.reserveCapacity(sorted.count)
        for pattern in sorted {
            if let last = patterns.last, last.bytes == pattern.bytes {
                if pattern.wrapped { patterns[patterns.count - 1].wrapped = true }
            } else {
                patterns.append(pattern)
            }
        }
        self.patterns = patterns
        isEmpty = patterns.isEmpty
        maxLength = patterns.map(\.bytes.count).max() ?? 0

        // Byte classes.
        var classes = [UInt8](repeating: 0, count: 256)
        var classCount = 1
        for pattern in patterns {
            for byte in pattern.bytes where classes[Int(byte)] == 0 {
                classes[Int(byte)] = UInt8(classCount)
                classCount += 1
            }
        }
        self.classCount = classCount

        // Trie, in insertion order. In sorted order a pattern shares with the trie exactly its
        // longest common prefix with the previous pattern (`path` holds that one's states).
        let totalBytes = patterns.reduce(0) { $0 + $1.bytes.count }
        var tDepth: [Int32] = [0], tLength: [Int32] = [0], tWrapped: [UInt8] = [0], tWrapPrefix: [Bool] = [false]
        var edgeParent: [Int32] = [], edgeCls: [UInt8] = [], edgeChild: [Int32] = []
        tDepth.reserveCapacity(totalBytes + 1); tLength.reserveCapacity(totalBytes + 1)
        tWrapped.reserveCapacity(totalBytes + 1); tWrapPrefix.reserveCapacity(totalBytes + 1)
        edgeParent.reserveCapacity(totalBytes); edgeCls.reserveCapacity(totalBytes); edgeChild.reserveCapacity(totalBytes)
        var path: [Int] = [0]
        var previous: [UInt8] = []
        for pattern in patterns {
            let bytes = pattern.bytes
            var common = 0
            let limit = min(previous.count, bytes.count)
            while common < limit && previous[common] == bytes[common] { common += 1 }
            path.removeSubrange((common + 1)...)
            if pattern.wrapped { for d in stride(from: 1, through: common, by: 1) { tWrapPrefix[path[d]] = true } }
            var node = path[common]
            for d in common..<bytes.count {
                let next = Int32(tDepth.count)
                tDepth.append(Int32(d + 1))
                tLength.append(0)
                tWrapped.append(0)
                tWrapPrefix.append(pattern.wrapped)
                edgeParent.append(Int32(node))
                edgeCls.append(classes[Int(bytes[d])])
                edgeChild.append(next)
                node = Int(next)
                path.append(node)
            }
            tLength[node] = Int32(bytes.count)
            if pattern.wrapped { tWrapped[node] = 1 }
            previous = bytes
        }
        let n = tDepth.count
        nodeCount = n

        // Children lists (CSR by old id), then breadth-first renumbering.
        var oldStart = [Int32](repeating: 0, count: n + 1)
        for parent in edgeParent { oldStart[Int(parent) + 1] += 1 }
        for i in 0..<n { oldStart[i + 1] += oldStart[i] }
        var fillAt = oldStart
        var oldKids = [Int32](repeating: 0, count: edgeChild.count)
        for e in 0..<edgeChild.count {
            let parent = Int(edgeParent[e])
            oldKids[Int(fillAt[parent])] = Int32(e)
            fillAt[parent] += 1
        }
        var order = [Int32](repeating: 0, count: n)  // new id -> old id
        var newId = [Int32](repeating: 0, count: n)
        var head = 0, tail = 1
        while head < tail {
            let old = Int(order[head])
            newId[old] = Int32(head)
            for k in Int(oldStart[old])..<Int(oldStart[old + 1]) {
                order[tail] = edgeChild[Int(oldKids[k])]
                tail += 1
            }
            head += 1
        }
        var denseCount = 1
        while denseCount < n && tDepth[Int(order[denseCount])] == 1 { denseCount += 1 }
        self.denseCount = Int32(denseCount)

        func allocate<T>(_ count: Int, _ value: T) -> UnsafeMutablePointer<T> {
            let p = UnsafeMutablePointer<T>.allocate(capacity: max(count, 1))
            p.initialize(repeating: value, count: max(count, 1))
            return p
        }
        classOf = allocate(256, 0)
        for b in 0..<256 { classOf[b] = classes[b] }
        dense = allocate(denseCount * classCount, 0)
        fail = allocate(n, 0)
        depth = allocate(n, 0)
        edgeStart = allocate(n + 1, 0)
        edgeClass = allocate(edgeChild.count, 0)
        edgeTarget = allocate(edgeChild.count, 0)
        output = allocate(n, -1)
        patternLength = allocate(n, 0)
        patternWrapped = allocate(n, 0)
        crlfNext = allocate(n, 0)

        // Edges by new id, sorted by class; per-node attributes.
        var e = 0
        for id in 0..<n {
            let old = Int(order[id])
            edgeStart[id] = Int32(e)
            depth[id] = tDepth[old]
            patternLength[id] = tLength[old]
            patternWrapped[id] = tWrapped[old]
            // The node's edges, insertion-sorted by class in place (most nodes have one).
            let first = e
            for k in Int(oldStart[old])..<Int(oldStart[old + 1]) {
                let edge = Int(oldKids[k])
                let cls = edgeCls[edge], target = newId[Int(edgeChild[edge])]
                var at = e
                while at > first && edgeClass[at - 1] > cls {
                    edgeClass[at] = edgeClass[at - 1]
                    edgeTarget[at] = edgeTarget[at - 1]
                    at -= 1
                }
                edgeClass[at] = cls
                edgeTarget[at] = target
                e += 1
            }
        }
        edgeStart[n] = Int32(e)

        // Failure links, dense rows, outputs and CR/LF transitions, breadth first.
        let wrapPrefix: [Bool] = (0..<n).map { tWrapPrefix[Int(order[$0])] }
        for id in 0..<n {
            if id < denseCount {
                let row = dense + id * classCount
                if id != 0 {
                    for c in 0..<classCount { row[c] = dense[c] }  // fail of a depth-1 state is the root
                }
                for k in Int(edgeStart[id])..<Int(edgeStart[id + 1]) { row[Int(edgeClass[k])] = edgeTarget[k] }
            }
            for k in Int(edgeStart[id])..<Int(edgeStart[id + 1]) {
                let target = Int(edgeTarget[k])
                var f: Int32 = 0
                if id != 0 {
                    f = Self.transition(from: fail[id], cls: edgeClass[k], dense: dense, denseCount: Int32(denseCount),
                                        classCount: classCount, fail: fail, edgeStart: edgeStart, edgeClass: edgeClass,
                                        edgeTarget: edgeTarget)
                }
                fail[target] = f
                output[target] = patternLength[target] > 0 ? Int32(target) : output[Int(f)]
                crlfNext[target] = wrapPrefix[target] ? Int32(target) : crlfNext[Int(f)]
            }
        }

        // q-gram filter over the raw bytes a pattern can begin with.
        let shortest = patterns.map(\.bytes.count).min() ?? 0
        let q = min(4, patterns.isEmpty ? 4 : shortest)
        gramMask = q >= 4 ? UInt32.max : (UInt32(1) << UInt32(8 * q)) - 1
        var grams: [UInt32] = []
        for pattern in patterns {
            if pattern.wrapped {
                Self.wrappedGrams(pattern.bytes, q: q, into: &grams)
            } else {
                grams.append(Self.gram(pattern.bytes, at: 0, q: q))
            }
        }
        var bits = 12
        while bits < 23 && (1 << bits) < grams.count * 64 { bits += 1 }
        filterShift = UInt32(32 - bits)
        filter = allocate(1 << (bits - 6), 0)
        for g in grams {
            let h = Self.hash(g, UInt32(32 - bits))
            filter[h >> 6] |= 1 << UInt64(h & 63)
        }
        // Shift table. For a window [i, i+m) whose last q-gram g is at pattern offset j of a match
        // starting at k >= i, j = i + m - q - k, so no match starts in [i, i + (m - q - j)): the
        // shift of g is the least m - q - j over the offsets j <= m - q where g occurs in a
        // pattern, and m - q + 1 where it occurs in none. Hash collisions keep the least, which
        // only shortens a shift. A wrapped pattern's match may hold CR/LF bytes, which move its
        // bytes later in the text: its q-grams at offsets up to m - q get shift 0, and so does
        // any q-gram holding a CR or LF (tested in `skip`).
        let m = shortest
        window = m
        fullShift = min(255, m - q + 1)
        anyWrapped = patterns.contains { $0.wrapped }
        var tableBytes = 0
        // Only when windows can move far: with shifts of a few bytes, the filter's four positions
        // per load below are faster (bench/redactor-bench.sh: 8-byte secrets, 649 → 412 MB/s).
        if q == 4 && m - q + 1 >= 8 {  // `skip` reads the window's last four bytes
            var sbits = 12
            while sbits < 20 && (1 << sbits) < patterns.count * (m - q + 1) * 16 { sbits += 1 }
            let tableShift = UInt32(32 - sbits)
            shiftBits = tableShift
            tableBytes = 1 << sbits
            let table = allocate(tableBytes, UInt8(fullShift))
            for pattern in patterns {
                for j in 0...(m - q) {
                    let h = Self.hash(Self.gram(pattern.bytes, at: j, q: q), tableShift)
                    let value = pattern.wrapped ? 0 : UInt8(min(255, m - q - j))  // shorter is safe
                    if value < table[h] { table[h] = value }
                }
            }
            shift = table
        } else {
            shift = nil
            shiftBits = 0
        }
        memoryFootprint = 256 + denseCount * classCount * 4 + n * 4 * 6 + n * 2 + edgeChild.count * 5 + (1 << (bits - 3)) + tableBytes
    }

    /// Byte-wise comparison (memcmp order; a prefix sorts first).
    static func compare(_ a: [UInt8], _ b: [UInt8]) -> Int {
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                for k in 0..<min(pa.count, pb.count) where pa[k] != pb[k] { return Int(pa[k]) - Int(pb[k]) }
                return pa.count - pb.count
            }
        }
    }

    /// The q bytes at `offset` of `bytes`, little-endian, as the scanner loads them.
    static func gram(_ bytes: [UInt8], at offset: Int, q: Int) -> UInt32 {
        var g: UInt32 = 0
        for t in 0..<q { g |= UInt32(bytes[offset + t]) << UInt32(8 * t) }
        return g
    }

    /// A q-gram's slot in a table of 2^(32 - `shift`) entries (the filter's bits, the shift table).
    @inline(__always)
    static func hash(_ g: UInt32, _ shift: UInt32) -> Int {
        Int((g &* 0x9E37_79B1) &>> shift)
    }

    deinit {
        classOf.deallocate(); dense.deallocate(); fail.deallocate(); depth.deallocate()
        edgeStart.deallocate(); edgeClass.deallocate(); edgeTarget.deallocate(); output.deallocate()
        patternLength.deallocate(); patternWrapped.deallocate(); crlfNext.deallocate(); filter.deallocate()
        shift?.deallocate()
    }

    /// Every q-byte window a wrapped pattern can begin with: its bytes with runs of up to two CR/LF between them.
    private static func wrappedGrams(_ bytes: [UInt8], q: Int, into grams: inout [UInt32]) {
        func extend(_ g: UInt32, length: Int, next: Int, run: Int) {
            if length == q { grams.append(g); return }
            if next < bytes.count { extend(g | UInt32(bytes[next]) << UInt32(8 * length), length: length + 1, next: next + 1, run: 0) }
            if run < 2 {
                for nl: UInt8 in [10, 13] { extend(g | UInt32(nl) << UInt32(8 * length), length: length + 1, next: next, run: run + 1) }
            }
        }
        extend(UInt32(bytes[0]), length: 1, next: 1, run: 0)
    }

    @inline(__always)
    static func transition(from state: Int32, cls: UInt8, dense: UnsafeMutablePointer<Int32>, denseCount: Int32, classCount: Int,
                           fail: UnsafeMutablePointer<Int32>, edgeStart: UnsafeMutablePointer<Int32>,
                           edgeClass: UnsafeMutablePointer<UInt8>, edgeTarget: UnsafeMutablePointer<Int32>) -> Int32 {
        var s = state
        while true {
            if s < denseCount { return dense[Int(s) &* classCount &+ Int(cls)] }
            var k = Int(edgeStart[Int(s)])
            let end = Int(edgeStart[Int(s) + 1])
            while k < end {
                let c = edgeClass[k]
                if c == cls { return edgeTarget[k] }
                if c > cls { break }
                k += 1
            }
            s = fail[Int(s)]
        }
    }

    /// True when a pattern may begin at `p` (needs 4 readable bytes).
    @inline(__always)
    func mayBegin(_ p: UnsafePointer<UInt8>) -> Bool {
        let g = UInt32(littleEndian: UnsafeRawPointer(p).loadUnaligned(as: UInt32.self)) & gramMask
        let h = Self.hash(g, filterShift)
        return filter[h &>> 6] & (1 &<< UInt64(h & 63)) != 0
    }

    /// The first position in `from..<limit` where a pattern may begin, or `limit`. `count` is the
    /// number of readable bytes at `p` (`limit` is `count - 3`).
    @inline(__always)
    func skip(_ p: UnsafePointer<UInt8>, from: Int, limit: Int, count: Int) -> Int {
        var i = from
        let filter = self.filter, mask = gramMask, shift = filterShift
        @inline(__always) func probe(_ word: UInt64) -> Bool {
            let h = Self.hash(UInt32(truncatingIfNeeded: word) & mask, shift)
            return filter[h &>> 6] & (1 &<< UInt64(h & 63)) != 0
        }
        /// The first of positions k..<k+4 where a pattern may begin, from one 8-byte load
        /// (bytes k..<k+8 must be readable).
        @inline(__always) func firstOfFour(_ k: Int) -> Int? {
            let word = UInt64(littleEndian: UnsafeRawPointer(p + k).loadUnaligned(as: UInt64.self))
            let a = probe(word), b = probe(word &>> 8), c = probe(word &>> 16), d = probe(word &>> 24)
            guard a || b || c || d else { return nil }
            return a ? k : b ? k &+ 1 : c ? k &+ 2 : k &+ 3
        }
        if let table = self.shift {
            // Whole windows of the shortest pattern's length, while one fits in the bytes at hand.
            let last = count - window, gramAt = window - 4, bits = shiftBits, crlf = anyWrapped, full = fullShift
            @inline(__always) func gram(_ k: Int) -> UInt32 {
                UInt32(littleEndian: UnsafeRawPointer(p + k + gramAt).loadUnaligned(as: UInt32.self)) & mask
            }
            // Whether a byte of g is CR or LF (they become zero bytes; exact for "any").
            @inline(__always) func breaks(_ g: UInt32) -> Bool {
                let x = g ^ 0x0A0A_0A0A, y = g ^ 0x0D0D_0D0D
                return ((x &- 0x0101_0101) & ~x | (y &- 0x0101_0101) & ~y) & 0x8080_8080 != 0
            }
            @inline(__always) func shiftAt(_ k: Int) -> Int {
                let g = gram(k)
                return crlf && breaks(g) ? 0 : Int(table[Self.hash(g, bits)])
            }
            while i <= last {
                // Most windows move by the full shift: look at four windows at once, each as if the
                // ones before it moved that far (independent loads instead of one chain of them).
                if i &+ 3 &* full <= last {
                    let s0 = shiftAt(i), s1 = shiftAt(i &+ full), s2 = shiftAt(i &+ 2 &* full), s3 = shiftAt(i &+ 3 &* full)
                    if s0 == full {
                        i &+= full
                        if s1 == full {
                            i &+= full
                            if s2 == full {
                                i &+= full
                                if s3 == full { i &+= full }
                            }
                        }
                        continue
                    }
                }
                let step = shiftAt(i)
                if step == 0 {
                    // A pattern may begin here (or, with a line break in the gram, a wrapped one):
                    // check this position and the next three with the filter, from one load
                    // (bytes i..<i+8 are readable: the window is 11 bytes at least).
                    if let found = firstOfFour(i) { return found }
                    i &+= 4
                } else {
                    i &+= step
                }
            }
        }
        // Four positions per 8-byte load (bytes i..<i+8; `limit` is the count minus 3).
        while i &+ 5 <= limit {
            if let found = firstOfFour(i) { return found }
            i &+= 4
        }
        while i < limit {
            if mayBegin(p + i) { return i }
            i &+= 1
        }
        return limit
    }

    /// Where the bytes of the last `length` pattern bytes begin, before absolute position `end`
    /// (CR/LF bytes in between are skipped). Never below `floor`.
    @inline(__always)
    func rawStart(length: Int, end: Int, lastCRLF: Int, floor: Int, byteAt: (Int) -> UInt8) -> Int {
        if lastCRLF < end - length { return max(end - length, floor) }
        var k = end - 1, count = 0
        while k >= floor {
            let b = byteAt(k)
            if b != 10 && b != 13 {
                count += 1
                if count == length { return k }
            }
            k -= 1
        }
        return floor
    }

    /// Start of the window of bytes that may still begin a match in state `st`.
    @inline(__always)
    func windowStart(_ st: ScanState, end: Int, floor: Int, byteAt: (Int) -> UInt8) -> Int {
        let d = Int(depth[Int(st.node)])
        if d == 0 { return end }
        return rawStart(length: d, end: end, lastCRLF: st.lastCRLF, floor: floor, byteAt: byteAt)
    }

    /// Runs the automaton over `count` bytes at `p`, which are the bytes at absolute positions
    /// `base..<base+count`. Calls `onMatch(start, end, state)` once per end position where at
    /// least one pattern ends, with the earliest start (clamped to `floor`). `byteAt` reads bytes
    /// at absolute positions `floor..<base+count` (only for wrapped matches across line breaks).
    @inline(__always)
    func scan(_ p: UnsafePointer<UInt8>, count n: Int, base: Int, state st: inout ScanState, floor: Int,
              byteAt: (Int) -> UInt8, onMatch: (Int, Int, ScanState) -> Void) {
        let dense = self.dense, denseCount = self.denseCount, classCount = self.classCount, classOf = self.classOf
        let fail = self.fail, edgeStart = self.edgeStart, edgeClass = self.edgeClass, edgeTarget = self.edgeTarget
        let output = self.output, depth = self.depth, crlfNext = self.crlfNext
        let patternLength = self.patternLength, patternWrapped = self.patternWrapped
        let lookahead = n - 3
        var i = 0
        while i < n {
            if st.node == 0 && st.lastCandidate < base + i && i < lookahead {
                // At the root with nothing pending: skip positions where no pattern can begin.
                i = skip(p, from: i, limit: lookahead, count: n)
                if i < lookahead { st.lastCandidate = base + i }
                continue
            }
            let pos = base + i
            let b = p[i]
            if b == 10 || b == 13 {
                st.crlfRun = st.lastCRLF == pos - 1 ? st.crlfRun + 1 : 1
                st.lastCRLF = pos
                st.node = st.crlfRun > 2 ? 0 : crlfNext[Int(st.node)]
            } else {
                let cls = classOf[Int(b)]
                if cls == 0 {
                    st.node = 0
                } else {
                    var s = st.node
                    if s < denseCount {
                        s = dense[Int(s) &* classCount &+ Int(cls)]
                    } else {
                        s = Self.transition(from: s, cls: cls, dense: dense, denseCount: denseCount, classCount: classCount,
                                            fail: fail, edgeStart: edgeStart, edgeClass: edgeClass, edgeTarget: edgeTarget)
                    }
                    st.node = s
                    var m = output[Int(s)]
                    if m >= 0 {
                        let end = pos + 1
                        var best = Int.max
                        while m >= 0 {
                            let length = Int(patternLength[Int(m)])
                            if patternWrapped[Int(m)] != 0 {
                                best = min(best, rawStart(length: length, end: end, lastCRLF: st.lastCRLF, floor: floor, byteAt: byteAt))
                            } else if st.lastCRLF < end - length {
                                best = min(best, max(end - length, floor))
                            }
                            m = output[Int(fail[Int(m)])]
                        }
                        if best != Int.max { onMatch(best, end, st) }
                    }
                }
            }
            if i < lookahead {
                if mayBegin(p + i) { st.lastCandidate = pos }
            } else {
                st.lastCandidate = pos
            }
            i += 1
            // Leave the automaton when no position in the state's window can begin a match.
            let w = pos + 1 - Int(depth[Int(st.node)])
            if st.lastCandidate < w && st.lastCRLF < w { st.node = 0 }
        }
    }

    /// Masked intervals in `bytes` (sorted, disjoint, not touching), for one-shot redaction.
    func matches(in bytes: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
        guard !isEmpty, let p = bytes.baseAddress, bytes.count > 0 else { return [] }
        var intervals: [Range<Int>] = []
        var st = ScanState()
        scan(p, count: bytes.count, base: 0, state: &st, floor: 0, byteAt: { bytes[$0] }) { start, end, _ in
            Self.merge(start..<end, into: &intervals, from: 0)
        }
        return intervals
    }

    /// Adds `interval` to a sorted list of disjoint, non-touching intervals, merging those it
    /// overlaps or touches. It usually ends at or after every interval there (matches come in the
    /// order they end), but not always: after a stream takes a newer automaton, the held bytes are
    /// read again and their matches may end before an interval kept from before.
    @inline(__always)
    static func merge(_ interval: Range<Int>, into intervals: inout [Range<Int>], from first: Int) {
        var lower = interval.lowerBound
        var upper = interval.upperBound
        var start = intervals.count
        while start > first, intervals[start - 1].upperBound >= lower { start -= 1 }
        var end = start
        while end < intervals.count, intervals[end].lowerBound <= upper {
            lower = min(lower, intervals[end].lowerBound)
            upper = max(upper, intervals[end].upperBound)
            end += 1
        }
        if start == intervals.count {
            intervals.append(lower..<upper)
        } else {
            intervals.replaceSubrange(start..<end, with: CollectionOfOne(lower..<upper))
        }
    }

    /// Applies the masking rule to `bytes`: inside each interval, CR and LF bytes are kept and
    /// each run of other bytes becomes `***`.
    static func apply(_ intervals: [Range<Int>], to bytes: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var at = 0
        for interval in intervals {
            out.append(contentsOf: bytes[at..<interval.lowerBound])
            var inRun = false
            for k in interval {
                let b = bytes[k]
                if b == 10 || b == 13 {
                    out.append(b)
                    inRun = false
                } else if !inRun {
                    out.append(contentsOf: maskBytes)
                    inRun = true
                }
            }
            at = interval.upperBound
        }
        out.append(contentsOf: bytes[at..<bytes.count])
        return out
    }

    static let maskBytes: [UInt8] = Array("***".utf8)
}

/// Where a scan stands: the automaton state and what the CR/LF and candidate logic remember.
struct ScanState {
    var node: Int32 = 0
    /// Absolute position of the last CR/LF byte seen by the automaton.
    var lastCRLF = Int.min / 2
    /// Length of the CR/LF run ending at `lastCRLF`.
    var crlfRun = 0
    /// Last position where a pattern may begin (by the filter, or because the look-ahead was short).
    var lastCandidate = Int.min / 2
}
