import Foundation
import RillFormat
import RillRuntime
import RillTokenizer

// Input: a `.rill` file. Its checksums are recomputed before it is opened (`RillParts.reseal`),
// so mutations reach the checks behind them; the XCTest harness covers the checksum paths.
// A file that opens is used as `rill run` uses it: views, tokenizer, model, two steps.

func fuzzSeeds() throws -> [[UInt8]] {
    try [("mamba-tok", QuantType.f32), ("mamba", .int4), ("mamba", .int8), ("transnormer", .int4), ("samba", .int8)].map {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: try FuzzFixtures.rillPath($0.0, $0.1))))
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var bytes = fuzzBytes(data, size)
    RillParts.reseal(&bytes)
    let path = FuzzFile.write(bytes, tag: "rill")
    do {
        let f = try RillFile(path: path)
        for t in f.tensors { _ = try f.tensor(t.name) }
        _ = f.verify()
        if let tok = try f.tokenizerBytes() { _ = try? ByteLevelBPETokenizer(tokenizerJSON: tok) }
        let model = try Model(path: path)
        let session = Session(model: model, threads: 1)
        try session.step(0)
        try session.step(Int32(model.vocabSize - 1))
    } catch {}
    return 0
}
