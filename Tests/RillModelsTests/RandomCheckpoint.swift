import RillFormat
import Foundation

/// Writes a Hugging Face checkpoint folder (config.json + model.safetensors, f32) for tests
/// that need a model of a shape no fixture has.
struct RandomCheckpoint {
    var tensors: [(String, [Int], [Float])] = []
    var rng: SplitMix64

    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    mutating func add(_ name: String, _ shape: [Int], scale: Float = 0.1) {
        tensors.append((name, shape, rng.floats(shape.reduce(1, *), scale: scale)))
    }

    mutating func add(_ name: String, _ shape: [Int], values: [Float]) {
        tensors.append((name, shape, values))
    }

    func write(to dir: URL, config: String) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try config.write(to: dir.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        var header: [String] = []
        var offset = 0
        for (name, shape, values) in tensors {
            header.append("\"\(name)\":{\"dtype\":\"F32\",\"shape\":\(shape),\"data_offsets\":[\(offset),\(offset + values.count * 4)]}")
            offset += values.count * 4
        }
        var json = Array(("{" + header.joined(separator: ",") + "}").utf8)
        while json.count % 8 != 0 { json.append(0x20) }
        var data = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: json)
        for (_, _, values) in tensors { values.withUnsafeBytes { data.append(contentsOf: $0) } }
        try data.write(to: dir.appendingPathComponent("model.safetensors"))
    }
}

func temporaryDirectory(_ tag: String) -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("rill-\(tag)-\(UUID().uuidString)")
}
