/// The jobs of a workflow and their `needs` edges.
public struct JobGraph: Sendable {
    /// Job ids in file order.
    public let ids: [String]
    /// needs[id] = the ids `id` needs (only ids that exist).
    public let needs: [String: [String]]

    public init(_ workflow: Workflow) {
        ids = workflow.jobs.map(\.id)
        let known = Set(ids)
        var needs: [String: [String]] = [:]
        for job in workflow.jobs {
            var seen: Set<String> = []
            needs[job.id] = job.needs.map(\.value).filter { known.contains($0) && seen.insert($0).inserted }
        }
        self.needs = needs
    }

    /// A cycle as a list of ids (each needs the next, the last needs the first), or nil.
    /// Depth-first from each job in file order, with an explicit stack: a chain of any length
    /// cannot overflow the call stack. Linear in jobs and needs.
    public func cycle() -> [String]? {
        enum Mark { case visiting, done }
        var marks: [String: Mark] = [:]
        marks.reserveCapacity(ids.count)
        // The path being explored: each job with the position of the next need to follow.
        var path: [(id: String, next: Int)] = []
        for root in ids where marks[root] == nil {
            marks[root] = .visiting
            path.append((root, 0))
            while let (id, next) = path.last {
                let edges = needs[id] ?? []
                guard next < edges.count else {
                    marks[id] = .done
                    path.removeLast()
                    continue
                }
                path[path.count - 1].next += 1
                let need = edges[next]
                switch marks[need] {
                case .done: continue
                case .visiting:
                    let start = path.lastIndex { $0.id == need } ?? path.startIndex
                    return path[start...].map(\.id)
                case nil:
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
