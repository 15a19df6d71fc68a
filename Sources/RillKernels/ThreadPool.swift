import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// A persistent pool of worker threads for splitting one kernel call (a mat-vec's rows) across
// cores, with no allocation and no system call per call while the workers are awake.
//
// Work is a value conforming to `ParallelTask` (or `ParallelRowsTask`), passed by address: a
// closure cannot be handed to other threads without a heap box. `withoutActuallyEscaping`
// followed by publishing the escapable closure compiled to a 32-byte `swift_allocObject` per
// call (Swift 6.3.1, -Ounchecked, seen in the disassembly), whatever the form (stored in a
// struct, behind a pointer, bit-cast to integers). The closure forms below are kept for tests
// and cold paths and say so.
//
// Protocol. One 64-bit word `work` holds the generation of the current call (high 32 bits) and
// the number of its tasks not yet claimed (low 32 bits). A call publishes the address of its
// job (the task's type and address, on the caller's stack), then stores (generation + 1,
// count). Every thread, the caller included, claims tasks by compare-and-swap on `work`, which fails once the
// generation has moved on, so a worker that wakes late can never run a task of a finished call;
// the job address is read only after a claim succeeds, while the call is still waiting for
// that task. Each finished task increments `finished`; the caller returns when it reaches
// `count`. Idle workers spin on `work` for `spinMicroseconds`, then sleep on a condition
// variable: they announce themselves in `sleepers` before their last look at `work`, and a call
// that sees `sleepers > 0` after publishing takes the mutex and broadcasts, so no wake-up is
// lost (both sides use sequentially consistent operations).
//
// Measured (timing harness, 2-core VM, workers awake): an empty 2-task call returns in
// 0.22–0.26 µs; a 2048×768 int8 mat-vec runs 1.97× faster on 2 threads than on 1.

/// A fixed set of `threadCount − 1` worker threads plus the calling thread.
///
/// Calls are meant for the thread that owns the pool (a session's decode loop); the pool is not
/// re-entrant: calling `parallelFor` from inside a task, or from two threads at once,
/// stops the program with a precondition failure instead of deadlocking. Separate pools are
/// independent, so two sessions in one process each own one. `deinit` stops and joins the
/// workers.
public final class ThreadPool: @unchecked Sendable {
    /// Threads that run tasks, the caller included (≥ 1).
    public let threadCount: Int
    private let shared: PoolShared
    private var threads: [pthread_t] = []
    private var generation: UInt32 = 0

    /// The processors this process may run on (`ProcessInfo.activeProcessorCount`).
    public static var defaultThreadCount: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

    /// Starts `threadCount − 1` workers.
    ///
    /// - Parameters:
    ///   - threadCount: threads to split work over, the caller included (the CLI's `--threads`).
    ///     1 runs everything on the caller.
    ///   - spinMicroseconds: how long an idle worker polls for the next call before sleeping.
    ///     Decode issues mat-vecs microseconds apart, so polling keeps wake-up latency near
    ///     zero; a worker that sleeps costs a futex wake (≈ 5–50 µs) on its next call.
    public init(threadCount: Int = ThreadPool.defaultThreadCount, spinMicroseconds: Int = 100) {
        precondition(threadCount >= 1, "threadCount must be at least 1, got \(threadCount)")
        self.threadCount = threadCount
        shared = PoolShared(spinNanoseconds: UInt64(max(0, spinMicroseconds)) * 1000)
        threads.reserveCapacity(threadCount - 1)
        for _ in 1..<threadCount {
            let context = Unmanaged.passRetained(shared).toOpaque()
            #if canImport(Darwin)
            var thread: pthread_t?
            let rc = pthread_create(&thread, nil, { PoolShared.workerMain($0) }, context)
            precondition(rc == 0, "pthread_create failed: \(rc)")
            threads.append(thread!)
            #else
            var thread = pthread_t()
            let rc = pthread_create(&thread, nil, { PoolShared.workerMain($0!) }, context)
            precondition(rc == 0, "pthread_create failed: \(rc)")
            threads.append(thread)
            #endif
        }
    }

    deinit {
        shared.stopping.store(true, ordering: .sequentiallyConsistent)
        shared.wakeSleepers()
        for t in threads { pthread_join(t, nil) }
    }

    // MARK: - Calls

    /// Runs `task.run(i)` for every `i` in `0..<count`, spread over the pool's threads, and
    /// returns when all have finished. The order and the thread of each `i` are unspecified;
    /// runs for different `i` must not write the same memory. `count == 0` returns at once.
    /// Allocates nothing: `task` stays on the caller's stack and is read through its address.
    // Inlinable so that callers in other modules get it specialised: the unspecialised generic
    // boxed the closure around `withUnsafePointer` (a heap allocation, in the disassembly).
    @inlinable
    public func parallelFor<Task: ParallelTask>(_ count: Int, _ task: Task) {
        withUnsafePointer(to: task) { run(count, type: Task.self, task: UnsafeRawPointer($0)) }
    }

    /// Splits `0..<total` into at most `threadCount` contiguous chunks whose bounds are
    /// multiples of `alignment` (except the end, `total`) and runs `task.run(rows:)` on each in
    /// parallel.
    ///
    /// With `alignment` 16 and 4-byte outputs, no two threads write the same 64-byte cache
    /// line of a row-indexed output. Chunks are as equal as the alignment allows; `total == 0`
    /// returns at once. Allocates nothing.
    @inlinable
    public func parallelRows<Task: ParallelRowsTask>(total: Int, alignment: Int = 16, _ task: Task) {
        precondition(total >= 0 && alignment >= 1)
        let units = (total + alignment - 1) / alignment
        if units == 0 { return }
        let perChunk = (units + threadCount - 1) / threadCount * alignment
        parallelFor((total + perChunk - 1) / perChunk, RowChunks(task: task, total: total, perChunk: perChunk))
    }

    /// The non-generic body of ``parallelFor(_:_:)-(_,Task)``: the task is its type and address.
    @usableFromInline
    func run(_ count: Int, type: any ParallelTask.Type, task: UnsafeRawPointer) {
        precondition(count >= 0 && count < Int(UInt32.max), "count \(count) out of range")
        if count == 0 { return }
        if threadCount == 1 || count == 1 {
            for i in 0..<count { runTask(type, task, i) }
            return
        }
        precondition(!shared.busy.exchange(true, ordering: .acquiring),
                     "ThreadPool is not re-entrant: parallelFor called from a task or from two threads")
        var job = PoolJob(type: type, task: task)
        withUnsafeMutablePointer(to: &job) { jobPointer in
            generation &+= 1
            shared.finished.store(0, ordering: .relaxed)
            shared.job.store(UInt(bitPattern: jobPointer), ordering: .relaxed)
            shared.work.store(UInt64(generation) << 32 | UInt64(count), ordering: .sequentiallyConsistent)
            if shared.sleepers.load(ordering: .sequentiallyConsistent) > 0 { shared.wakeSleepers() }
            shared.runTasks(generation: generation)
            var spins = 0
            while shared.finished.load(ordering: .acquiring) < count {
                spins += 1
                if spins > 4096 { sched_yield() }  // a worker was descheduled mid-task
            }
        }
        shared.busy.store(false, ordering: .releasing)
    }

    /// ``parallelFor(_:_:)-(_,Task)`` with a closure. Not for the token loop: handing the
    /// closure to other threads boxes it, one small heap allocation per call.
    public func parallelFor(_ count: Int, _ body: (Int) -> Void) {
        withoutActuallyEscaping(body) { body in parallelFor(count, ClosureTask(body: body)) }
    }

    /// ``parallelRows(total:alignment:_:)-(_,_,Task)`` with a closure. Not for the token loop:
    /// one small heap allocation per call, as ``parallelFor(_:_:)-(_,(Int)->Void)``.
    public func parallelRows(total: Int, alignment: Int = 16, _ body: (Range<Int>) -> Void) {
        withoutActuallyEscaping(body) { body in parallelRows(total: total, alignment: alignment, ClosureRowsTask(body: body)) }
    }
}

// MARK: - Tasks

/// Work split by index: `run(i)` for each `i` of a ``ThreadPool/parallelFor(_:_:)-(_,Task)``
/// call, on any of the pool's threads. Keep conforming types small (pointers and sizes): the
/// pool reads the value in place, on the caller's stack.
public protocol ParallelTask {
    func run(_ index: Int)
}

/// Work split by rows: `run(rows:)` for each chunk of a
/// ``ThreadPool/parallelRows(total:alignment:_:)-(_,_,Task)`` call.
public protocol ParallelRowsTask {
    func run(rows: Range<Int>)
}

/// Chunk `i` of `0..<total` is `i · perChunk ..< min(total, (i + 1) · perChunk)`.
@usableFromInline
struct RowChunks<Task: ParallelRowsTask>: ParallelTask {
    @usableFromInline let task: Task
    @usableFromInline let total: Int
    @usableFromInline let perChunk: Int

    @inlinable
    init(task: Task, total: Int, perChunk: Int) {
        self.task = task
        self.total = total
        self.perChunk = perChunk
    }

    @inlinable
    func run(_ index: Int) {
        task.run(rows: (index * perChunk)..<min(total, (index + 1) * perChunk))
    }
}

struct ClosureTask: ParallelTask {
    let body: (Int) -> Void
    func run(_ index: Int) { body(index) }
}

struct ClosureRowsTask: ParallelRowsTask {
    let body: (Range<Int>) -> Void
    func run(rows: Range<Int>) { body(rows) }
}

// MARK: - Shared state

/// The caller's job, on its stack for the duration of one call: the task's type (to call
/// `run` through its witness table) and address.
private struct PoolJob {
    let type: any ParallelTask.Type
    let task: UnsafeRawPointer
}

/// Calls `run(index)` on the task of type `type` at `task` (opens the existential metatype).
func runTask<Task: ParallelTask>(_ type: Task.Type, _ task: UnsafeRawPointer, _ index: Int) {
    task.assumingMemoryBound(to: Task.self).pointee.run(index)
}

/// State shared by the pool object and its workers. Workers retain it, not the pool, so
/// dropping the last reference to the pool runs its `deinit`, which joins them.
private final class PoolShared: @unchecked Sendable {
    /// Generation (high 32 bits) and tasks not yet claimed (low 32 bits).
    let work = Atomic<UInt64>(0)
    /// Tasks of the current generation that have finished.
    let finished = Atomic<Int>(0)
    /// Address of the current call's `PoolJob`.
    let job = Atomic<UInt>(0)
    /// Workers inside the sleeping section.
    let sleepers = Atomic<Int>(0)
    let stopping = Atomic<Bool>(false)
    /// A call is in progress (catches re-entrant and concurrent use).
    let busy = Atomic<Bool>(false)
    let spinNanoseconds: UInt64
    let mutex: UnsafeMutablePointer<pthread_mutex_t>
    let condition: UnsafeMutablePointer<pthread_cond_t>

    init(spinNanoseconds: UInt64) {
        self.spinNanoseconds = spinNanoseconds
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        condition = .allocate(capacity: 1)
        condition.initialize(to: pthread_cond_t())
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Claims and runs tasks of call `generation` until none is left to claim.
    func runTasks(generation: UInt32) {
        while true {
            var state = work.load(ordering: .acquiring)
            while true {
                if UInt32(truncatingIfNeeded: state >> 32) != generation || state & 0xFFFF_FFFF == 0 { return }
                let (exchanged, original) = work.compareExchange(
                    expected: state, desired: state - 1, successOrdering: .acquiringAndReleasing, failureOrdering: .acquiring)
                if exchanged { break }
                state = original
            }
            let index = Int(state & 0xFFFF_FFFF) - 1
            let jobPointer = UnsafePointer<PoolJob>(bitPattern: job.load(ordering: .acquiring))!
            runTask(jobPointer.pointee.type, jobPointer.pointee.task, index)
            finished.add(1, ordering: .releasing)
        }
    }

    func wakeSleepers() {
        pthread_mutex_lock(mutex)
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }

    /// A worker: wait for a new generation (spin, then sleep), run its tasks, repeat.
    static func workerMain(_ context: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer? {
        let shared = Unmanaged<PoolShared>.fromOpaque(context).takeRetainedValue()
        var seen: UInt32 = 0
        while true {
            guard let generation = shared.waitForWork(after: seen) else { return nil }
            seen = generation
            shared.runTasks(generation: generation)
        }
    }

    /// The first generation other than `seen`, or nil when the pool is stopping.
    private func waitForWork(after seen: UInt32) -> UInt32? {
        let start = monotonicNanoseconds()
        var spins = 0
        while true {
            let generation = UInt32(truncatingIfNeeded: work.load(ordering: .acquiring) >> 32)
            if generation != seen { return generation }
            if stopping.load(ordering: .acquiring) { return nil }
            spins += 1
            // Reading the clock costs ~20 ns; look every 256 polls.
            if spins & 255 == 0 && monotonicNanoseconds() - start > spinNanoseconds { break }
        }
        pthread_mutex_lock(mutex)
        sleepers.add(1, ordering: .sequentiallyConsistent)
        var generation = UInt32(truncatingIfNeeded: work.load(ordering: .sequentiallyConsistent) >> 32)
        while generation == seen && !stopping.load(ordering: .sequentiallyConsistent) {
            pthread_cond_wait(condition, mutex)
            generation = UInt32(truncatingIfNeeded: work.load(ordering: .sequentiallyConsistent) >> 32)
        }
        sleepers.subtract(1, ordering: .sequentiallyConsistent)
        pthread_mutex_unlock(mutex)
        return generation != seen ? generation : nil
    }
}

private func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}
