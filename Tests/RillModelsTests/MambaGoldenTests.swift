import RillFormat
import XCTest

/// Mamba against transformers' `MambaForCausalLM` (Tests/Fixtures/mamba-tiny).
final class MambaGoldenTests: XCTestCase {
    func testF32LogitsMatchReferenceInPrefillAndStepModes() throws {
        try GoldenLogitsChecks.f32MatchesInBothModes("mamba-tiny")
    }

    func testInt8ArgmaxAgreesWithReferenceAtLeast99Percent() throws {
        try GoldenLogitsChecks.quantisedArgmaxAgrees("mamba-tiny", .int8, atLeast: 0.99)
    }

    func testInt4ArgmaxAgreesWithReferenceAtLeast95Percent() throws {
        try GoldenLogitsChecks.quantisedArgmaxAgrees("mamba-tiny", .int4, atLeast: 0.95)
    }

    func testF32GreedyContinuationEqualsReference() throws {
        try GoldenLogitsChecks.greedyContinuationMatches("mamba-tiny")
    }

    func testLongRunKeepsLogitsFiniteAndMemoryFlat() throws {
        try GoldenLogitsChecks.longRunIsFlat("mamba-tiny")
    }
}
