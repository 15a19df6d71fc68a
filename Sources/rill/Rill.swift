import ArgumentParser
import Foundation
import RillKernels

@main
struct Rill: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rill",
        abstract: "Run language models (Mamba, TransNormerLLM, SAMBA, SUBLLM, LLaMA) from one memory-mapped file.",
        discussion: """
            Typical use:
              rill convert path/to/hf-checkpoint -o model.rill --quant int8
              rill inspect model.rill
              rill run model.rill -p "In the beginning" -n 64
              rill chat model.rill
              rill serve model.rill --port 8080
            """,
        version: "0.1.0",
        subcommands: subcommands)

    // Swift 6.0's manifest (Package@swift-6.0.swift, for arm64 builds) has no RillServer: its
    // HTTP packages need newer tools.
    #if canImport(RillServer)
    static let subcommands: [any ParsableCommand.Type] = [
        Convert.self, Inspect.self, Verify.self, Run.self, Chat.self, Serve.self, Logits.self, Tokenize.self, Bench.self,
        PerplexityCommand.self,
    ]
    #else
    static let subcommands: [any ParsableCommand.Type] = [
        Convert.self, Inspect.self, Verify.self, Run.self, Chat.self, Logits.self, Tokenize.self, Bench.self,
        PerplexityCommand.self,
    ]
    #endif

    static func main() async {
        useFastBLASKernels()
        await main(nil)
    }

    /// When OpenBLAS fell back to old SSE kernels on a CPU with AVX2 (see
    /// `suggestedBLASCoreType`), starts this program again with `OPENBLAS_CORETYPE` set: the
    /// kernels are chosen when the library loads, before any of our code runs. Prefill is
    /// 1.7–2× faster for it. Setting the variable yourself turns this off.
    private static func useFastBLASKernels() {
        guard let core = suggestedBLASCoreType() else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // exec failed: carry on with the slow kernels.
    }
}
