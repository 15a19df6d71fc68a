import ArgumentParser

@main
struct Rill: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rill",
        abstract: "Run recurrent language models (Mamba, TransNormerLLM, SAMBA) from one memory-mapped file.",
        discussion: """
            Typical use:
              rill convert path/to/hf-checkpoint -o model.rill --quant int8
              rill inspect model.rill
              rill run model.rill -p "In the beginning" -n 64
            """,
        version: "0.1.0",
        subcommands: [Convert.self, Inspect.self, Verify.self, Run.self, Logits.self, Bench.self, PerplexityCommand.self])
}
