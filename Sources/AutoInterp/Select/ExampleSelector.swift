import Foundation

/// The statistics and examples picked for one unit.
package struct UnitSelection: Sendable {
    package var statistics: UnitStatistics
    /// Explanation and scoring examples; their contexts are disjoint.
    package var examples: [ExampleRecord]

    package var unit: UnitRef { statistics.unit }
}

/// Picks example contexts for many units in two streaming passes over the dataset.
///
/// Pass 1 finds each unit's max activation, density and top contexts; pass 2, knowing the max,
/// fills the histogram and draws activation-binned, non-activating and random contexts by
/// reservoir sampling. Memory is O(units × examples × context length); the dataset is only read
/// in batches. Each unit has its own seeded random stream, so results do not depend on threading.
///
/// The classification examples (`classify/activating` by activation decile, `classify/silent`)
/// use a second stream of their own, so asking for more or fewer of them never changes the
/// other subsets. Their deciles need every activating context's max from pass 1 (one `Float`
/// per activating context per unit, freed before pass 2).
package struct ExampleSelector {
    package var config: SelectionConfig

    package init(config: SelectionConfig = SelectionConfig()) {
        self.config = config
    }

    /// Runs both passes over `source` and returns one selection per unit, in `source.units` order.
    ///
    /// - Parameter progress: called with (batches done, total batches) after each batch of each pass.
    package func select(from source: UnitActivationSource, progress: ((Int, Int) -> Void)? = nil) throws -> [UnitSelection] {
        var selections: [UnitSelection] = []
        try select(from: source, progress: progress) { selections.append($0) }
        return selections
    }

    /// Runs both passes and hands each unit's selection to `each`, in `source.units` order, as it
    /// is made: selections are made 64 units at a time in parallel (each unit's streaming state
    /// freed as its selection is made), so at most one group's examples exist at once.
    package func select(
        from source: UnitActivationSource, progress: ((Int, Int) -> Void)? = nil, each: (UnitSelection) throws -> Void
    ) throws {
        let dataset = source.dataset
        let length = dataset.contextLength
        let batches = source.batches
        let total = batches.count * 2
        var states = source.units.enumerated().map { u, unit in
            UnitState(unit: unit, config: config, contextLength: length, neighbours: source.neighbourUnits[u])
        }
        // A sparse source (an encode CSR, the selection scratch file) is scanned by its non-zeros:
        // a context where a unit is 0 throughout costs O(1), and no dense batch is held.
        let sparse = source.readsSparse
        var buffer = [Float](repeating: 0, count: sparse ? 0 : source.rowCount * source.contextsPerBatch * length)
        let unitRows = source.unitRows, neighbourRows = source.neighbourRows
        let selectable = (0..<dataset.tokenCount).map { dataset.isSelectable(token: $0, includeSpecial: config.includeSpecialTokens) }
        let selectableCounts = sparse
            ? (0..<dataset.contextCount).map { c in (0..<length).reduce(0) { $0 + (selectable[c * length + $1] ? 1 : 0) } } : []

        for pass in 1...2 {
            for (b, contexts) in batches.enumerated() {
                let tokens = contexts.count * length
                if sparse {
                    let batch = try source.readSparse(contexts: contexts)
                    states.withUnsafeMutableBufferPointer { states in
                        Parallel.forEach(states.count) { u in
                            batch.observe(
                                row: unitRows[u], pass: pass, state: &states[u], contexts: contexts, selectable: selectable,
                                selectableCounts: selectableCounts)
                        }
                    }
                    progress?((pass - 1) * batches.count + b + 1, total)
                    continue
                }
                try buffer.withUnsafeMutableBufferPointer { values in
                    let values = values.baseAddress!
                    try source.read(contexts: contexts, into: values)
                    states.withUnsafeMutableBufferPointer { states in
                        Parallel.forEach(states.count) { u in
                            let row = values + unitRows[u] * tokens
                            if pass == 1 {
                                states[u].observeFirst(row, contexts: contexts, selectable: selectable)
                            } else {
                                let neighbours = neighbourRows[u].map { UnsafePointer(values + $0 * tokens) }
                                states[u].observeSecond(row, contexts: contexts, selectable: selectable, neighbours: neighbours)
                            }
                        }
                    }
                }
                progress?((pass - 1) * batches.count + b + 1, total)
            }
            if pass == 1 {
                for u in states.indices { states[u].finishFirstPass() }
            }
        }
        buffer = []
        // Units' selections are made (and their state freed) a group at a time across cores, then
        // handed over in order: a group's examples are all that is held at once.
        let group = 64
        for start in stride(from: 0, to: states.count, by: group) {
            let range = start..<min(states.count, start + group)
            var made = [UnitSelection?](repeating: nil, count: range.count)
            states.withUnsafeMutableBufferPointer { states in
                made.withUnsafeMutableBufferPointer { made in
                    Parallel.forEach(range.count) { i in
                        let u = range.lowerBound + i
                        made[i] = states[u].result(dataset: dataset, selectable: selectable)
                        states[u] = UnitState(unit: states[u].unit, config: UnitState.emptyConfig, contextLength: length, neighbours: [])
                    }
                }
            }
            for i in made.indices {
                guard let selection = made[i] else { continue }
                made[i] = nil
                try each(selection)
            }
        }
    }
}

// MARK: - Per-unit streaming state

/// A context kept by a heap or reservoir, with the unit's activations over it.
struct KeptContext {
    var context: Int
    var maxActivation: Float
    var activations: [Float]
}

/// Fixed-size uniform sample of a stream (Algorithm R) with its own random stream.
struct Reservoir {
    let capacity: Int
    var items: [KeptContext] = []
    var seen = 0

    init(capacity: Int) { self.capacity = capacity }

    /// Offers an item; `make` is only called when the item is kept. Returns whether it was.
    @discardableResult
    mutating func offer(using rng: inout SeededGenerator, _ make: () -> KeptContext) -> Bool {
        seen += 1
        guard capacity > 0 else { return false }
        if items.count < capacity {
            items.append(make())
            return true
        }
        let j = Int.random(in: 0..<seen, using: &rng)
        guard j < capacity else { return false }
        items[j] = make()
        return true
    }
}

struct UnitState {
    let unit: UnitRef
    let config: SelectionConfig
    let contextLength: Int
    var rng: SeededGenerator
    /// The classification draws' own stream (the others' results do not depend on them).
    var classifyRNG: SeededGenerator
    /// The hard negatives' own stream (the silent draw does not depend on them).
    var hardRNG: SeededGenerator

    // Pass 1
    var maxActivation: Float = 0
    var positives = 0
    var counted = 0
    var top: [KeptContext] = []  // min-heap on maxActivation, at most config.topPool
    var activatingMaxima: [Float] = []  // every activating context's max, for the deciles

    // Between passes
    var explainContexts: Set<Int> = []
    var topContexts: Set<Int> = []
    /// Upper edge (inclusive) of each activation decile of the context maxima; empty when no
    /// classification examples are wanted or the unit never fires.
    var decileEdges: [Float] = []

    // Pass 2
    var histogram: [Int]
    var zeroCount = 0
    var bins: [Reservoir]  // index 0: non-activating; 1...quantileBins: equal-width bins of (0, max]
    var random: Reservoir
    var deciles: [Reservoir]  // classify/activating, decile d at index d - 1
    var silent: Reservoir  // classify/silent
    /// classify/hard candidates: silent contexts where a neighbour fires, `hardNegatives +
    /// classifySilent` of them so that enough remain once the silent draw is taken out.
    var hard: Reservoir
    /// The unit's nearest units, in the order of the rows `observeSecond` is given.
    let neighbours: [UnitRef]
    /// For each kept hard candidate's context, the neighbour firing most in it.
    var hardNeighbour: [Int: UnitRef] = [:]

    /// A config that keeps nothing, for the placeholder state a finished unit leaves behind.
    static let emptyConfig: SelectionConfig = {
        var config = SelectionConfig()
        (config.explainTop, config.scoreTop, config.scoreRandom, config.quantileBins, config.quantilePerBin) = (0, 0, 0, 0, 0)
        (config.nonActivating, config.histogramBins, config.classifyPerDecile, config.classifySilent) = (0, 0, 0, 0)
        config.hardNegatives = 0
        return config
    }()

    init(unit: UnitRef, config: SelectionConfig, contextLength: Int, neighbours: [UnitRef] = []) {
        self.unit = unit
        self.neighbours = neighbours
        self.config = config
        self.contextLength = contextLength
        rng = SeededGenerator(seed: config.seed, stream: UInt64(unit.index) &* 4 &+ (unit.kind == .feature ? 1 : 2))
        histogram = Array(repeating: 0, count: config.histogramBins)
        bins = [Reservoir(capacity: config.nonActivating)]
            + Array(repeating: Reservoir(capacity: config.quantilePerBin), count: config.quantileBins)
        random = Reservoir(capacity: config.scoreRandom)
        classifyRNG = SeededGenerator(seed: config.seed, stream: UInt64(unit.index) &* 4 &+ (unit.kind == .feature ? 3 : 4))
        deciles = Array(repeating: Reservoir(capacity: config.classifyPerDecile), count: SelectionConfig.classifyDeciles)
        silent = Reservoir(capacity: config.classifySilent)
        hardRNG = SeededGenerator(seed: config.seed ^ Self.hardSeedSalt, stream: UInt64(unit.index) &* 4 &+ (unit.kind == .feature ? 3 : 4))
        hard = Reservoir(capacity: neighbours.isEmpty || config.hardNegatives == 0 ? 0 : config.hardNegatives + config.classifySilent)
    }

    /// Mixed into the run seed for the hard negatives' stream.
    static let hardSeedSalt: UInt64 = 0x6861_7264_6E65_6773  // "hardnegs"

    /// The neighbour (index into `rows`) whose max over the context's selectable tokens is the
    /// largest and above 0, or nil when none fires there.
    func firingNeighbour(_ rows: [UnsafePointer<Float>], offset: Int, start: Int, selectable: [Bool]) -> Int? {
        var best: (index: Int, value: Float)? = nil
        for (n, row) in rows.enumerated() {
            guard let value = contextMax(row + offset, start: start, selectable: selectable), value > 0 else { continue }
            if value > (best?.value ?? 0) { best = (n, value) }
        }
        return best?.index
    }

    /// The equal-count decile edges of `maxima`: edge d (1...10) is the value at rank ⌈n·d/10⌉.
    /// A context max belongs to the first decile whose edge it does not exceed (ties share one).
    static func decileEdges(_ maxima: [Float], count: Int = SelectionConfig.classifyDeciles) -> [Float] {
        guard !maxima.isEmpty else { return [] }
        let sorted = maxima.sorted()
        let n = sorted.count
        return (1...count).map { d in sorted[Swift.max(0, (n * d + count - 1) / count - 1)] }
    }

    /// The decile 1...10 of an activating context's max.
    func decile(of value: Float) -> Int {
        (decileEdges.firstIndex { value <= $0 } ?? decileEdges.count - 1) + 1
    }

    /// The max over selectable tokens of a context, or nil when it has none.
    @inline(__always)
    func contextMax(_ row: UnsafePointer<Float>, start: Int, selectable: [Bool]) -> Float? {
        var best: Float? = nil
        for p in 0..<contextLength where selectable[start + p] {
            best = Swift.max(best ?? -.infinity, row[p])
        }
        return best
    }

    mutating func observeFirst(_ values: UnsafePointer<Float>, contexts: Range<Int>, selectable: [Bool]) {
        for (i, context) in contexts.enumerated() { observeFirst(values + i * contextLength, context: context, selectable: selectable) }
    }

    /// Pass 1 over one context's activations (`contextLength` values).
    mutating func observeFirst(_ row: UnsafePointer<Float>, context: Int, selectable: [Bool]) {
        let start = context * contextLength
        guard let best = contextMax(row, start: start, selectable: selectable) else { return }
        for p in 0..<contextLength where selectable[start + p] {
            counted += 1
            if row[p] > 0 { positives += 1 }
        }
        keepFirst(row, context: context, best: best)
    }

    /// Pass 1 over a context from its stored values: `row` is the context written out (0 where
    /// nothing is stored) and `positions` where values are stored (each once; none 0 or NaN, so the
    /// max is the same in any order): what ``observeFirst(_:context:selectable:)`` does, in
    /// O(stored values) instead of O(`contextLength`).
    mutating func observeFirst(
        _ row: UnsafePointer<Float>, context: Int, positions: [Int], selectable: [Bool], selectableCount: Int
    ) {
        guard selectableCount > 0 else { return }
        let start = context * contextLength
        var best = -Float.infinity
        var stored = 0
        for p in positions where selectable[start + p] {
            stored += 1
            best = Swift.max(best, row[p])
            if row[p] > 0 { positives += 1 }
        }
        if stored < selectableCount { best = Swift.max(best, 0) }
        counted += selectableCount
        keepFirst(row, context: context, best: best)
    }

    /// Pass 1's use of a context's max `best`: the unit's max, the decile maxima, the top heap.
    private mutating func keepFirst(_ row: UnsafePointer<Float>, context: Int, best: Float) {
        maxActivation = Swift.max(maxActivation, best)
        if best > 0, config.classifyPerDecile > 0 { activatingMaxima.append(best) }
        guard best > 0, config.topPool > 0 else { return }
        if top.count < config.topPool {
            top.append(KeptContext(context: context, maxActivation: best, activations: Array(UnsafeBufferPointer(start: row, count: contextLength))))
            siftUp(top.count - 1)
        } else if best > top[0].maxActivation {
            top[0] = KeptContext(context: context, maxActivation: best, activations: Array(UnsafeBufferPointer(start: row, count: contextLength)))
            siftDown(0)
        }
    }

    /// Pass 1 over a context where the unit is 0 at every token: what ``observeFirst(_:context:selectable:)``
    /// does with a row of zeros, without reading one (`selectableCount`: the context's selectable tokens).
    mutating func observeFirstSilent(selectableCount: Int) {
        guard selectableCount > 0 else { return }
        counted += selectableCount
        maxActivation = Swift.max(maxActivation, 0)
    }

    mutating func finishFirstPass() {
        // Best first, ties by context for determinism; then a seeded split into explain / score.
        top.sort { ($0.maxActivation, -$0.context) > ($1.maxActivation, -$1.context) }
        topContexts = Set(top.map(\.context))
        let (explain, _) = splitCounts(top.count)
        var order = Array(top.indices)
        order.shuffle(using: &rng)
        explainContexts = Set(order.prefix(explain).map { top[$0].context })
        decileEdges = Self.decileEdges(activatingMaxima)
        activatingMaxima = []
    }

    /// How many of `pool` top contexts go to explanation and to scoring.
    func splitCounts(_ pool: Int) -> (explain: Int, score: Int) {
        guard pool >= config.topPool else {
            // Few activating contexts: keep about a third for scoring, the rest to explain.
            let score = Swift.min(config.scoreTop, pool >= 2 ? Swift.max(1, pool / 3) : 0)
            return (pool - score, score)
        }
        return (config.explainTop, config.scoreTop)
    }

    mutating func observeSecond(
        _ values: UnsafePointer<Float>, contexts: Range<Int>, selectable: [Bool], neighbours neighbourRows: [UnsafePointer<Float>] = []
    ) {
        for (i, context) in contexts.enumerated() {
            observeSecond(values + i * contextLength, context: context, selectable: selectable, neighbours: neighbourRows.map { $0 + i * contextLength })
        }
    }

    /// Pass 2 over one context's activations; `neighbourRows` point at the neighbours' values over the same context.
    mutating func observeSecond(_ row: UnsafePointer<Float>, context: Int, selectable: [Bool], neighbours neighbourRows: [UnsafePointer<Float>] = []) {
        let histogramBins = Double(config.histogramBins)
        let top = Double(maxActivation)
        let start = context * contextLength
        guard let best = contextMax(row, start: start, selectable: selectable) else { return }
        for p in 0..<contextLength where selectable[start + p] {
            let v = row[p]
            if v > 0 && top > 0 {
                let b = Int((Double(v) * histogramBins / top).rounded(.up)) - 1
                histogram[Swift.min(Swift.max(b, 0), config.histogramBins - 1)] += 1
            } else {
                zeroCount += 1
            }
        }
        offerSecond(row, context: context, best: best, selectable: selectable, neighbours: neighbourRows)
    }

    /// Pass 2 over a context from its stored values (see ``observeFirst(_:context:positions:selectable:selectableCount:)``):
    /// what ``observeSecond(_:context:selectable:neighbours:)`` does, in O(stored values).
    mutating func observeSecond(
        _ row: UnsafePointer<Float>, context: Int, positions: [Int], selectable: [Bool], selectableCount: Int,
        neighbours neighbourRows: [UnsafePointer<Float>] = []
    ) {
        guard selectableCount > 0 else { return }
        let histogramBins = Double(config.histogramBins)
        let top = Double(maxActivation)
        let start = context * contextLength
        var best = -Float.infinity
        var stored = 0, binned = 0
        for p in positions where selectable[start + p] {
            stored += 1
            let v = row[p]
            best = Swift.max(best, v)
            if v > 0 && top > 0 {
                let b = Int((Double(v) * histogramBins / top).rounded(.up)) - 1
                histogram[Swift.min(Swift.max(b, 0), config.histogramBins - 1)] += 1
                binned += 1
            }
        }
        if stored < selectableCount { best = Swift.max(best, 0) }
        zeroCount += selectableCount - binned
        offerSecond(row, context: context, best: best, selectable: selectable, neighbours: neighbourRows)
    }

    /// Pass 2's draws for a context whose max is `best`.
    private mutating func offerSecond(
        _ row: UnsafePointer<Float>, context: Int, best: Float, selectable: [Bool], neighbours neighbourRows: [UnsafePointer<Float>]
    ) {
        let binCount = Double(config.quantileBins)
        let top = Double(maxActivation)
        let start = context * contextLength
        let keep = { KeptContext(context: context, maxActivation: best, activations: Array(UnsafeBufferPointer(start: row, count: self.contextLength))) }
        // Classification draws: any context the explainer does not see, on their own stream.
        if !explainContexts.contains(context) {
            if best <= 0 {
                silent.offer(using: &classifyRNG, keep)
                if hard.capacity > 0, let firing = firingNeighbour(neighbourRows, offset: 0, start: start, selectable: selectable) {
                    if hard.offer(using: &hardRNG, keep) { hardNeighbour[context] = neighbours[firing] }
                }
            } else if !decileEdges.isEmpty {
                deciles[decile(of: best) - 1].offer(using: &classifyRNG, keep)
            }
        }
        guard !topContexts.contains(context) else { return }
        random.offer(using: &rng, keep)
        if best <= 0 {
            bins[0].offer(using: &rng, keep)
        } else if top > 0, config.quantileBins > 0 {
            let b = Swift.min(Swift.max(Int((Double(best) * binCount / top).rounded(.up)), 1), config.quantileBins)
            bins[b].offer(using: &rng, keep)
        }
    }

    /// Pass 2 over a context where the unit is 0 at every token: what ``observeSecond(_:context:selectable:neighbours:)``
    /// does with a row of zeros (such a context is never a top one), for a unit without hard negatives.
    mutating func observeSecondSilent(context: Int, selectableCount: Int) {
        guard selectableCount > 0 else { return }
        zeroCount += selectableCount
        let length = contextLength
        let keep = { KeptContext(context: context, maxActivation: 0, activations: Array(repeating: 0, count: length)) }
        silent.offer(using: &classifyRNG, keep)
        random.offer(using: &rng, keep)
        bins[0].offer(using: &rng, keep)
    }

    func result(dataset: ActivationDataset, selectable: [Bool]) -> UnitSelection {
        func record(_ kept: KeptContext, _ role: ExampleRole, _ subset: ExampleSubset, bin: Int? = nil) -> ExampleRecord {
            let start = kept.context * contextLength
            let positions = (0..<contextLength).filter { selectable[start + $0] }
            let ids = dataset.tokens(context: kept.context)
            let tokenIDs = positions.map { ids[ids.startIndex + $0] }
            return ExampleRecord(
                role: role, subset: subset, context: kept.context, bin: bin, tokenIDs: tokenIDs,
                tokens: tokenIDs.map(dataset.string(forToken:)), activations: positions.map { kept.activations[$0] })
        }
        var examples: [ExampleRecord] = []
        examples += top.filter { explainContexts.contains($0.context) }.map { record($0, .explain, .top) }
        examples += top.filter { !explainContexts.contains($0.context) }.map { record($0, .score, .top) }
        examples += random.items.sorted { $0.context < $1.context }.map { record($0, .score, .random) }
        for (b, reservoir) in bins.enumerated() {
            examples += reservoir.items.sorted { $0.context < $1.context }.map { record($0, .score, .quantile, bin: b) }
        }
        for (d, reservoir) in deciles.enumerated() {
            examples += reservoir.items.sorted { $0.context < $1.context }.map { record($0, .classify, .activating, bin: d + 1) }
        }
        examples += silent.items.sorted { $0.context < $1.context }.map { record($0, .classify, .silent) }
        examples += hardNegatives().map { record($0, .classify, .hard, bin: hardNeighbour[$0.context]?.index) }
        let statistics = UnitStatistics(
            unit: unit, maxActivation: maxActivation, density: counted > 0 ? Double(positives) / Double(counted) : 0,
            tokenCount: counted, histogram: ActivationHistogram(max: maxActivation, counts: histogram, zeroCount: zeroCount))
        return UnitSelection(statistics: statistics, examples: examples)
    }

    /// The hard negatives: the candidates not drawn as `silent`, a seeded `hardNegatives` of them
    /// when more remain (all of them when fewer), by context.
    func hardNegatives() -> [KeptContext] {
        let silentContexts = Set(silent.items.map(\.context))
        var candidates = hard.items.filter { !silentContexts.contains($0.context) }.sorted { $0.context < $1.context }
        if candidates.count > config.hardNegatives {
            var rng = hardRNG
            candidates.shuffle(using: &rng)
            candidates = candidates.prefix(config.hardNegatives).sorted { $0.context < $1.context }
        }
        return candidates
    }

    // MARK: - Min-heap on maxActivation

    private mutating func siftUp(_ index: Int) {
        var i = index
        while i > 0 {
            let parent = (i - 1) / 2
            guard top[i].maxActivation < top[parent].maxActivation else { return }
            top.swapAt(i, parent)
            i = parent
        }
    }

    private mutating func siftDown(_ index: Int) {
        var i = index
        while true {
            let l = 2 * i + 1, r = l + 1
            var smallest = i
            if l < top.count && top[l].maxActivation < top[smallest].maxActivation { smallest = l }
            if r < top.count && top[r].maxActivation < top[smallest].maxActivation { smallest = r }
            if smallest == i { return }
            top.swapAt(i, smallest)
            i = smallest
        }
    }
}
