/// The jobs of a workflow and their `needs` edges.
public struct JobGraph: Sendable {
    /// Job ids in file order.
    public let ids: [String]
    /// needs[id] = the ids `id` needs (only ids that exist).
    public let needs: [String: [String]]

    /// The same edges as positions in `ids`: what `cycle` walks (no string hashing on the way).
    private let edges: [[Int]]

    public init(_ workflow: Workflow) {
        let jobs = workflow.jobs
        var ids: [String] = []
        ids.reserveCapacity(jobs.count)
        var position: [String: Int] = [:]
        position.reserveCapacity(jobs.count)
        for index in jobs.indices {
            let id = jobs[index].id
            ids.append(id)
            if position[id] == nil { position[id] = index }
        }
        var needs: [String: [String]] = [:]
        needs.reserveCapacity(jobs.count)
        var edges = [[Int]](repeating: [], count: jobs.count)
        // The job that last reached each target: a need listed twice is kept once.
        var lastFrom = [Int](repeating: -1, count: jobs.count)
        for index in jobs.indices {
            var names: [String] = []
            var targets: [Int] = []
            for need in jobs[index].needs {
                guard let target = position[need.value], lastFrom[target] != index else { continue }
                lastFrom[target] = index
                names.append(need.value)
                targets.append(target)
            }
            needs[ids[index]] = names
            edges[index] = targets
        }
        self.ids = ids
        self.needs = needs
        self.edges = edges
    }

    /// A cycle as a list of ids (each needs the next, the last needs the first), or nil.
    /// Depth-first from each job in file order, with an explicit stack: a chain of any length
    /// cannot overflow the call stack. Linear in jobs and needs.
    /// - Parameter ignoringSelf: a job that needs itself is not a cycle here (the validator says
    ///   "needs itself" once: one error per root cause).
    public func cycle(ignoringSelf: Bool = false) -> [String]? {
        enum Mark: UInt8 { case unseen, visiting, done }
        var marks = [Mark](repeating: .unseen, count: ids.count)
        // The path being explored: each job with the position of the next need to follow.
        var path: [(job: Int, next: Int)] = []
        for root in ids.indices where marks[root] == .unseen {
            marks[root] = .visiting
            path.append((root, 0))
            while let (job, next) = path.last {
                let targets = edges[job]
                guard next < targets.count else {
                    marks[job] = .done
                    path.removeLast()
                    continue
                }
                path[path.count - 1].next += 1
                let need = targets[next]
                if ignoringSelf && need == job { continue }
                switch marks[need] {
                case .done: continue
                case .visiting:
                    let start = path.lastIndex { $0.job == need } ?? path.startIndex
                    return path[start...].map { ids[$0.job] }
                case .unseen:
                    marks[need] = .visiting
                    path.append((need, 0))
                }
            }
        }
        return nil
    }

    /// `selected` and everything they need, transitively (all jobs when `selected` is empty).
    public func closure(of selected: [String]) -> Set<String> {
        if selected.isEmpty { return Set(ids) }
        var result: Set<String> = []
        var pending = selected
        while let id = pending.popLast() {
            if result.insert(id).inserted { pending.append(contentsOf: needs[id] ?? []) }
        }
        return result
    }

    /// Ids in an order where every job comes after what it needs (file order among equals).
    /// Jobs on a cycle, and what needs them, are left out (validation reports the cycle).
    ///
    /// The order is that of placing, pass after pass over the jobs in file order, every job whose
    /// needs are placed: a job's pass is the largest over its needs of the need's pass, plus one when
    /// the need comes later in the file. The passes are worked out Kahn-style (each job once, each
    /// need once), then the jobs are listed by pass and by file order: linear in jobs and needs.
    public func topologicalOrder(of subset: Set<String>? = nil) -> [String] {
        let members = ids.filter { subset?.contains($0) ?? true }
        var position: [String: Int] = [:]
        position.reserveCapacity(members.count)
        for (index, id) in members.enumerated() { position[id] = index }
        // Needs within the subset, as positions, and the reverse edges.
        var waiting = [Int](repeating: 0, count: members.count)
        var dependents = [[Int]](repeating: [], count: members.count)
        for (index, id) in members.enumerated() {
            for need in needs[id] ?? [] {
                guard let from = position[need] else { continue }
                waiting[index] += 1
                dependents[from].append(index)
            }
        }
        var pass = [Int](repeating: 0, count: members.count)
        var ready = (0..<members.count).filter { waiting[$0] == 0 }
        var placed = 0
        while let index = ready.popLast() {
            placed += 1
            for dependent in dependents[index] {
                pass[dependent] = max(pass[dependent], pass[index] + (index > dependent ? 1 : 0))
                waiting[dependent] -= 1
                if waiting[dependent] == 0 { ready.append(dependent) }
            }
        }
        var byPass = [[String]](repeating: [], count: placed == 0 ? 0 : (pass.max() ?? 0) + 1)
        for (index, id) in members.enumerated() where waiting[index] == 0 { byPass[pass[index]].append(id) }
        return byPass.flatMap { $0 }
    }
}
