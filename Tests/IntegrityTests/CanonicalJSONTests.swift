import AuditKernel
import Integrity
import Testing

/// RFC 8785 (JCS) for the subset digests use.
@Suite struct CanonicalJSONTests {
    func canonical(_ text: String) throws -> String {
        let value = try JSONValue.parse(text)
        try CanonicalJSON.check(value)
        return String(decoding: CanonicalJSON.encode(value), as: UTF8.self)
    }

    /// RFC 8785 §3.2.2's example without its non-integer numbers (which digests never hold).
    @Test func rfc8785StringsAndLiterals() throws {
        let input = #"""
            {
              "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
              "literals": [null, true, false]
            }
            """#
        #expect(try canonical(input) == #"{"literals":[null,true,false],"string":"€$\u000f\nA'B\"\\\\\"/"}"#)
    }

    /// RFC 8785 §3.2.3: names sorted by UTF-16 code units, so the emoji (a surrogate pair, 0xD83D…) comes before
    /// U+FB33, unlike an order by code points or UTF-8 bytes.
    @Test func rfc8785PropertySorting() throws {
        let input = #"""
            {
              "\u20ac": "Euro Sign",
              "\r": "Carriage Return",
              "\ufb33": "Hebrew Letter Dalet With Dagesh",
              "1": "One",
              "\ud83d\ude00": "Emoji: Grinning Face",
              "\u0080": "Control",
              "\u00f6": "Latin Small Letter O With Diaeresis"
            }
            """#
        let expected =
            "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\"ö\":\"Latin Small Letter O With Diaeresis\","
            + "\"€\":\"Euro Sign\",\"😀\":\"Emoji: Grinning Face\",\"\u{FB33}\":\"Hebrew Letter Dalet With Dagesh\"}"
        #expect(try canonical(input) == expected)
    }

    @Test func controlCharactersUseTheShortEscapesThenLowerCaseHex() {
        let value = JSONValue.string("\u{08}\u{0C}\u{01}\u{1F}\u{7F}/é")
        #expect(String(decoding: CanonicalJSON.encode(value), as: UTF8.self) == "\"\\b\\f\\u0001\\u001f\u{7F}/é\"")
    }

    @Test func nestedObjectsAreSortedAndWhitespaceGoes() throws {
        #expect(
            try canonical(" { \"b\" : [ 1 , { \"z\" : 0, \"a\" : -5 } ] , \"a\" : { } , \"\" : [ ] } ")
                == #"{"":[],"a":{},"b":[1,{"a":-5,"z":0}]}"#)
    }

    @Test(arguments: ["1.0", "1e2", "-0", "0.5", "007", "9007199254740992", "-9007199254740992", "1E0"])
    func numbersOutsideTheIntegerSubsetAreRefused(number: String) throws {
        // Built directly: the parser already refuses some of these forms (leading zeros).
        #expect(throws: IntegrityError.self) { try CanonicalJSON.check(.array([.number(number)])) }
        #expect(CanonicalJSON.integer(number) == nil)
    }

    @Test(arguments: ["0", "-1", "42", "9007199254740991", "-9007199254740991"])
    func integersPassUnchanged(number: String) throws {
        #expect(try canonical("[\(number)]") == "[\(number)]")
        #expect(CanonicalJSON.integer(number) != nil)
    }

    @Test func aRepeatedMemberNameIsRefused() throws {
        #expect(throws: IntegrityError.self) { try CanonicalJSON.check(try JSONValue.parse(#"{"a":1,"b":{"x":1,"x":2}}"#)) }
    }
}
