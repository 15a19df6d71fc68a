// XXH64 (Yann Collet's xxHash, 64-bit variant, seed 0 unless given): the checksum of every
// section and tensor in a `.rill` file. Chosen because readers in any language have it and it
// runs at memory speed, so `rill verify` on a large model is bounded by the disk.

private let prime1: UInt64 = 0x9E37_79B1_85EB_CA87
private let prime2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
private let prime3: UInt64 = 0x1656_67B1_9E37_79F9
private let prime4: UInt64 = 0x85EB_CA77_C2B2_AE63
private let prime5: UInt64 = 0x27D4_EB2F_1656_67C5

@inline(__always) private func rotl(_ x: UInt64, _ r: UInt64) -> UInt64 { (x << r) | (x >> (64 - r)) }

@inline(__always) private func round(_ acc: UInt64, _ input: UInt64) -> UInt64 {
    rotl(acc &+ input &* prime2, 31) &* prime1
}

@inline(__always) private func mergeRound(_ acc: UInt64, _ val: UInt64) -> UInt64 {
    (acc ^ round(0, val)) &* prime1 &+ prime4
}

/// XXH64 of `count` bytes at `data`.
public func xxh64(_ data: UnsafeRawPointer, count: Int, seed: UInt64 = 0) -> UInt64 {
    var p = 0
    var h: UInt64
    if count >= 32 {
        var v1 = seed &+ prime1 &+ prime2
        var v2 = seed &+ prime2
        var v3 = seed
        var v4 = seed &- prime1
        let limit = count - 32
        while p <= limit {
            v1 = round(v1, UInt64(littleEndian: data.loadUnaligned(fromByteOffset: p, as: UInt64.self)))
            v2 = round(v2, UInt64(littleEndian: data.loadUnaligned(fromByteOffset: p + 8, as: UInt64.self)))
            v3 = round(v3, UInt64(littleEndian: data.loadUnaligned(fromByteOffset: p + 16, as: UInt64.self)))
            v4 = round(v4, UInt64(littleEndian: data.loadUnaligned(fromByteOffset: p + 24, as: UInt64.self)))
            p += 32
        }
        h = rotl(v1, 1) &+ rotl(v2, 7) &+ rotl(v3, 12) &+ rotl(v4, 18)
        h = mergeRound(h, v1)
        h = mergeRound(h, v2)
        h = mergeRound(h, v3)
        h = mergeRound(h, v4)
    } else {
        h = seed &+ prime5
    }
    h = h &+ UInt64(count)
    while p + 8 <= count {
        let k = round(0, UInt64(littleEndian: data.loadUnaligned(fromByteOffset: p, as: UInt64.self)))
        h = rotl(h ^ k, 27) &* prime1 &+ prime4
        p += 8
    }
    if p + 4 <= count {
        let k = UInt64(UInt32(littleEndian: data.loadUnaligned(fromByteOffset: p, as: UInt32.self)))
        h = rotl(h ^ (k &* prime1), 23) &* prime2 &+ prime3
        p += 4
    }
    while p < count {
        let k = UInt64(data.load(fromByteOffset: p, as: UInt8.self))
        h = rotl(h ^ (k &* prime5), 11) &* prime1
        p += 1
    }
    h ^= h >> 33
    h = h &* prime2
    h ^= h >> 29
    h = h &* prime3
    h ^= h >> 32
    return h
}

/// XXH64 of a byte array.
public func xxh64(_ bytes: [UInt8], seed: UInt64 = 0) -> UInt64 {
    bytes.withUnsafeBytes { xxh64($0.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, count: $0.count, seed: seed) }
}
