import Testing

@testable import AuditKernel

@Suite struct JSONValueTests {
    @Test func numbersStayExact() throws {
        let v = try JSONValue.parse(
            #"{"time":1688667796.8802,"big":123456789012345678901234567890.123456789,"amount":"-24.5000","n":-0.0,"e":1E+2}"#)
        #expect(v["time"]?.numberText == "1688667796.8802")
        #expect(v["big"]?.numberText == "123456789012345678901234567890.123456789")
        #expect(v["amount"]?.stringValue == "-24.5000")
        #expect(
            v.jsonText == #"{"time":1688667796.8802,"big":123456789012345678901234567890.123456789,"amount":"-24.5000","n":-0.0,"e":1E+2}"#)
    }

    @Test func memberOrderIsKept() throws {
        let v = try JSONValue.parse(#"{"b":1,"a":2,"c":{"z":[1,2,{"y":null}]}}"#)
        #expect(v.objectMembers?.map(\.0) == ["b", "a", "c"])
        #expect(v.jsonText == #"{"b":1,"a":2,"c":{"z":[1,2,{"y":null}]}}"#)
    }

    @Test func stringsAndEscapes() throws {
        let v = try JSONValue.parse(#"["a\"b\\c\/d\n\u00fc\ud83d\ude00", "Ω"]"#)
        #expect(v.arrayValue?.first?.stringValue == "a\"b\\c/d\nü😀")
        let round = try JSONValue.parse(v.jsonText)
        #expect(round == v)
    }

    @Test func malformedInputIsRejected() {
        let bad = [
            "", "{", "[1,]", "{\"a\":}", "{\"a\" 1}", "01", "1.", "-", "tru", "\"abc", "\"\\x\"", "\"\\ud800\"",
            "\"a\u{01}b\"", "{\"a\":1} x", "\"\\u0000\"", String(repeating: "[", count: 100) + String(repeating: "]", count: 100),
        ]
        for text in bad {
            #expect(throws: JSONParseError.self, "\(text.prefix(20))") { try JSONValue.parse(text) }
        }
        #expect(throws: JSONParseError.self) { try JSONValue.parse([0x22, 0xff, 0x22]) }
    }
}
