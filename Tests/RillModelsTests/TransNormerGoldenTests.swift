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

    func testInt4ArgmaxAgreesWithReferenceAtLeast95Percent() throws {
        try GoldenLogitsChecks.quantisedArgmaxAgrees("transnormer-tiny", .int4, atLeast: 0.95)
    }

    func testF32GreedyContinuationEqualsReference() throws {
        try GoldenLogitsChecks.greedyContinuationMatches("transnormer-tiny")
    }

    func testLongRunKeepsLogitsFiniteAndMemoryFlat() throws {
        try GoldenLogitsChecks.longRunIsFlat("transnormer-tiny")
    }
}
