import Foundation
import RillFormat

// Input: a safetensors file. One that opens has every tensor read back.

func fuzzSeeds() throws -> [[UInt8]] {
    try ["mamba-tiny", "transnormer-tiny", "samba-tiny"].flatMap { folder in
        [try FuzzFixtures.shrunkSafetensors("\(folder)/model.safetensors"),
         try FuzzFixtures.shrunkSafetensors("\(folder)/golden.safetensors")]
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let path = FuzzFile.write(fuzzBytes(data, size), tag: "safetensors")
    do {
        let f = try SafetensorsFile(path: path)
        for t in f.tensors.values where t.elementCount <= 1 << 20 {
            switch t.dtype {
            case .i32, .i64: _ = try t.int32s()
            default: _ = try t.floats()
            }
        }
    } catch {}
    return 0
}
