import Foundation
import RillConvert
import RillFormat

// Input: a checkpoint's `config.json`.

func fuzzSeeds() throws -> [[UInt8]] {
    try ["mamba-tiny", "transnormer-tiny", "samba-tiny", "holdout/mamba", "holdout/transnormer", "holdout/samba"]
        .map { try fixtureBytes("\($0)/config.json") }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    _ = try? HFConfigDecoder.decode(data: Data(fuzzBytes(data, size)), path: "config.json")
    return 0
}
