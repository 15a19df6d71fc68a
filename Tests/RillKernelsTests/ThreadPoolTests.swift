import Foundation
import RillFormat
import RillKernels
import XCTest

final class ThreadPoolTests: XCTestCase {
    /// Every index runs exactly once, whatever the count relative to the threads.
    func testParallelForRunsEachIndexOnce() {
        let pool = ThreadPool(threadCount: 4)
        for count in [0, 1, 2, 3, 4, 5, 17, 1000] {
            let hits = UnsafeMutablePointer<Int>.allocate(capacity: max(1, count))
            hits.initialize(repeating: 0, count: max(1, count))
            pool.parallelFor(count) { i in hits[i] += 1 }
            XCTAssertTrue((0..<count).allSatisfy { hits[$0] == 1 }, "count \(count)")
            hits.deallocate()
        }
    }

    struct Mark: ParallelTask {
        let hits: UnsafeMutablePointer<Int>
        func run(_ index: Int) { hits[index] += 1 }
    }

    struct MarkRows: ParallelRowsTask {
        let owner: UnsafeMutablePointer<Int>
        func run(rows: Range<Int>) { for r in rows { owner[r] = rows.lowerBound } }
    }

    /// The allocation-free task forms: each index once, each row in exactly one aligned chunk.
    func testTaskFormsCoverEachIndexOnce() {
        let pool = ThreadPool(threadCount: 4)
        let hits = UnsafeMutablePointer<Int>.allocate(capacity: 100)
        hits.initialize(repeating: 0, count: 100)
        defer { hits.deallocate() }
        pool.parallelFor(100, Mark(hits: hits))
        XCTAssertTrue((0..<100).allSatisfy { hits[$0] == 1 })
        hits.initialize(repeating: -1, count: 100)
        pool.parallelRows(total: 100, alignment: 16, MarkRows(owner: hits))
        XCTAssertTrue((0..<100).allSatisfy { hits[$0] >= 0 && hits[$0] % 16 == 0 && hits[$0] <= $0 })
    }

    /// Many short calls in a row, with workers that sleep at once (no spinning), exercise the
    /// wake-up protocol: a lost wake-up would hang here, a stale worker would double-count.
    func testManyCallsWithSleepingWorkers() {
        let pool = ThreadPool(threadCount: 3, spinMicroseconds: 0)
        let cells = UnsafeMutablePointer<Int>.allocate(capacity: 8)
        cells.initialize(repeating: -1, count: 8)
        defer { cells.deallocate() }
        var mismatches = 0
        for call in 0..<5000 {
            let count = 1 + call % 8
            pool.parallelFor(count) { i in cells[i] = i + call }
            for i in 0..<count where cells[i] != i + call { mismatches += 1 }
        }
        XCTAssertEqual(mismatches, 0)
    }

    /// Chunks are aligned to the requested rows, disjoint, and cover 0..<total.
    func testParallelRowsChunksAreAlignedAndCover() {
        let pool = ThreadPool(threadCount: 3)
        for total in [0, 1, 15, 16, 17, 100, 768, 2049] {
            let owner = UnsafeMutablePointer<Int>.allocate(capacity: max(1, total))
            owner.initialize(repeating: -1, count: max(1, total))
            pool.parallelRows(total: total, alignment: 16) { rows in
                for r in rows { owner[r] = rows.lowerBound }
            }
            for r in 0..<total {
                XCTAssertTrue(owner[r] >= 0 && owner[r] % 16 == 0 && owner[r] <= r, "total \(total) row \(r): chunk \(owner[r])")
            }
            owner.deallocate()
        }
    }

    /// A one-thread pool runs everything on the caller.
    func testSingleThreadPoolRunsInline() {
        let pool = ThreadPool(threadCount: 1)
        var seen: [Int] = []
        pool.parallelFor(5) { seen.append($0) }
        XCTAssertEqual(seen, [0, 1, 2, 3, 4])
    }

    /// Two pools driven from two threads at once (two sessions in one process) do not
    /// interfere.
    func testTwoPoolsInParallel() {
        let pools = [ThreadPool(threadCount: 2), ThreadPool(threadCount: 3)]
        let results = UnsafeMutablePointer<Int>.allocate(capacity: 2)
        results.initialize(repeating: 0, count: 2)
        defer { results.deallocate() }
        DispatchQueue.concurrentPerform(iterations: 2) { p in
            let cells = UnsafeMutablePointer<Int>.allocate(capacity: 64)
            var sum = 0
            for call in 0..<500 {
                cells.initialize(repeating: 0, count: 64)
                pools[p].parallelFor(64) { i in cells[i] = i * (p + 1) + call }
                sum += (0..<64).reduce(0) { $0 + cells[$1] }
            }
            cells.deallocate()
            results[p] = sum
        }
        for p in 0..<2 {
            XCTAssertEqual(results[p], (0..<500).reduce(0) { acc, call in acc + (0..<64).reduce(0) { $0 + $1 * (p + 1) + call } })
        }
    }

    /// Pools created and dropped in a loop join their workers (a leak or hang shows here).
    func testDeinitJoinsWorkers() {
        for _ in 0..<20 {
            let pool = ThreadPool(threadCount: 4, spinMicroseconds: 10)
            pool.parallelFor(8) { _ in }
        }
    }

    /// The parallel mat-vec is bitwise the serial one, for every weight type, with row counts
    /// that do not divide into the chunks.
    func testParallelMatVecIsBitwiseSerial() {
        let pool = ThreadPool(threadCount: 3)
        var rng = SplitMix64(seed: 21)
        for type in QuantType.allCases {
            for (rows, cols) in [(17, 33), (100, 97), (257, 64)] {
                let w = OwnedTensor(name: "w", shape: [rows, cols], type: type, values: rng.floats(rows * cols))
                let x = rng.floats(cols)
                var serial = [Float](repeating: 0, count: rows), parallel = [Float](repeating: 0, count: rows)
                x.withUnsafeBufferPointer { xp in
                    serial.withUnsafeMutableBufferPointer { matVec(w.view, xp.baseAddress!, $0.baseAddress!, rows: 0..<rows) }
                    parallel.withUnsafeMutableBufferPointer { matVecParallel(pool: pool, w: w.view, x: xp.baseAddress!, y: $0.baseAddress!) }
                }
                assertBitwiseEqual(parallel, serial, "\(type) \(rows)×\(cols)")
                guard type.isBlockQuantised else { continue }
                let xq = ActivationsQ8(maxCols: cols)
                x.withUnsafeBufferPointer { xp in
                    xq.quantize(xp.baseAddress!, cols: cols)
                    serial.withUnsafeMutableBufferPointer { matVecQ8(w.view, xq, $0.baseAddress!, rows: 0..<rows) }
                    parallel.withUnsafeMutableBufferPointer {
                        matVecParallel(pool: pool, w: w.view, x: xp.baseAddress!, y: $0.baseAddress!, scratch: xq)
                    }
                }
                assertBitwiseEqual(parallel, serial, "\(type) \(rows)×\(cols) int8 activations")
            }
        }
    }
}
