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
    public func cycle() -> [String]? {
        enum Mark { case visiting, done }
        var marks: [String: Mark] = [:]
        var stack: [String] = []
        func visit(_ id: String) -> [String]? {
            switch marks[id] {
            case .done: return nil
            case .visiting:
                guard let start = stack.firstIndex(of: id) else { return [id] }
                return Array(stack[start...])
            case nil: break
            }
            marks[id] = .visiting
            stack.append(id)
            for need in needs[id] ?? [] {
                if let cycle = visit(need) { return cycle }
            }
            stack.removeLast()
            marks[id] = .done
            return nil
        }
        for id in ids {
            if let cycle = visit(id) { return cycle }
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
    /// Assumes no cycle.
    public func topologicalOrder(of subset: Set<String>? = nil) -> [String] {
        let members = subset ?? Set(ids)
        var placed: Set<String> = []
        var order: [String] = []
        var remaining = ids.filter { members.contains($0) }
        while !remaining.isEmpty {
            let before = remaining.count
            remaining.removeAll { id in
                let ready = (needs[id] ?? []).allSatisfy { placed.contains($0) || !members.contains($0) }
                if ready {
                    placed.insert(id)
                    order.append(id)
                }
                return ready
            }
            if remaining.count == before { break }  // a cycle: validation reports it
        }
        return order
    }
}
