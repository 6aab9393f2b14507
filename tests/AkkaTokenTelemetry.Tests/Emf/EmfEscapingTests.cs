using System.Buffers;
using System.Text;
using System.Text.Json.Nodes;
using AkkaTokenTelemetry.Tests.Support;

namespace AkkaTokenTelemetry.Tests.Emf;

/// <summary>Text that JSON must escape, and text that is not ASCII, arrives as one valid line with the same values.</summary>
public class EmfEscapingTests
{
    public static TheoryData<string, string> Texts() => new()
    {
        { "quotes", "say \"hi\"" },
        { "backslash", @"C:\temp\new" },
        { "newline", "line1\nline2\r\n" },
        { "tab", "a\tb" },
        { "nul", "a\0b" },
        { "other controls", "\u0001\u001f\u007f" },
        { "emoji", "ok 👍🏽 🚀" },
        { "cjk", "東京 héllo ✓" },
        { "line separators", "a\u2028b\u2029c" },
        { "html", "<script>&'</script>" },
    };

    /// <summary>How a string arrives: itself, except a lone surrogate (not Unicode text), which becomes U+FFFD.</summary>
    private static string Expected(string text)
    {
        var builder = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                builder.Append(text[i]).Append(text[i + 1]);
                i++;
            }
            else
            {
                builder.Append(char.IsSurrogate(text[i]) ? '\uFFFD' : text[i]);
            }
        }

        return builder.ToString();
    }

    private static JsonObject BuildWithProperty(string text) =>
        EmfPayload.Build(
            EmfSamples.Usage,
            EmfSamples.Namespace,
            EmfSamples.Dimensions,
            EmfSamples.DimensionValues,
            new Dictionary<string, object?> { ["Note"] = text, ["Nested"] = new Dictionary<string, object?> { [text] = new[] { text } } },
            EmfSamples.NowMs,
            EmfSamples.Clock());

    [Theory]
    [MemberData(nameof(Texts))]
    public void PropertyText_BuildToJsonString_IsOneValidLineWithTheSameValue(string label, string text)
    {
        var json = BuildWithProperty(text).ToJsonString();

        var e = EmfAssert.ValidLine(json, EmfSamples.NowMs);
        Assert.Equal(text, e["Note"]!.GetValue<string>());
        Assert.Equal(text, e["Nested"]![text]![0]!.GetValue<string>());
        Assert.False(string.IsNullOrEmpty(label));
    }

    [Theory]
    [MemberData(nameof(Texts))]
    public void PropertyText_DefaultEmitterLine_IsOneValidLineWithTheSameValue(string label, string text)
    {
        var line = EmfEmitters.FormatLine(BuildWithProperty(text), unicode: true);

        Assert.EndsWith("\n", line, StringComparison.Ordinal);
        Assert.Equal(1, line.Count(c => c == '\n'));
        var e = EmfAssert.ValidLine(Encoding.UTF8.GetBytes(line), EmfSamples.NowMs);
        Assert.Equal(text, e["Note"]!.GetValue<string>());
        Assert.False(string.IsNullOrEmpty(label));
    }

    [Theory]
    [MemberData(nameof(Texts))]
    public void PropertyText_Writer_IsOneValidLineWithTheSameValue(string label, string text)
    {
        var context = EmfContext.Create(EmfSamples.Namespace, EmfSamples.Dimensions, new Dictionary<string, object?> { ["Note"] = text });
        var buffer = new ArrayBufferWriter<byte>();
        new EmfEventWriter().WriteRecord(buffer, context, ["m", "a"], [new UsageEntry("inputTokens", 1)], EmfSamples.NowMs);

        var e = EmfAssert.ValidLine(buffer.WrittenSpan, EmfSamples.NowMs);
        Assert.Equal(text, e["Note"]!.GetValue<string>());
        Assert.False(string.IsNullOrEmpty(label));
    }

    [Fact]
    public void NonAsciiProperty_IsWrittenAsUtf8Characters_NotEscapes()
    {
        var line = EmfEmitters.FormatLine(BuildWithProperty("héllo ✓ 東京"), unicode: true);
        Assert.Contains("héllo ✓ 東京", line);
    }

    [Fact]
    public void NonAsciiProperty_OnAConsoleWithoutUnicode_IsEscapedNotLost()
    {
        var line = EmfEmitters.FormatLine(BuildWithProperty("héllo ✓ 東京"), unicode: false);
        Assert.All(line, c => Assert.True(c < 128, "ASCII only"));
        Assert.Equal("héllo ✓ 東京", EmfAssert.ValidLine(line)["Note"]!.GetValue<string>());
    }

    // Lone surrogates are built in code: test data attributes cannot carry them intact.
    public static TheoryData<int> LoneSurrogateCases() => [0, 1, 2];

    private static string LoneSurrogate(int index) => index switch
    {
        0 => "\uD800",
        1 => "a\uDC00b",
        _ => "end" + '\uD83D',
    };

    [Theory]
    [MemberData(nameof(LoneSurrogateCases))]
    public void LoneSurrogate_InAProperty_ArrivesAsReplacementCharacter(int index)
    {
        var text = LoneSurrogate(index);
        var expected = Expected(text);
        Assert.Contains('\uFFFD', expected);

        var fromBuild = EmfAssert.ValidLine(BuildWithProperty(text).ToJsonString(), EmfSamples.NowMs);
        var fromEmitter = EmfAssert.ValidLine(Encoding.UTF8.GetBytes(EmfEmitters.FormatLine(BuildWithProperty(text), unicode: true)), EmfSamples.NowMs);

        Assert.Equal(expected, fromBuild["Note"]!.GetValue<string>());
        Assert.Equal(expected, fromEmitter["Note"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("say \"hi\"")]
    [InlineData(@"C:\models\gpt")]
    [InlineData("a/b:c{d}[e]")]
    public void AsciiDimensionValue_WithJsonSpecialCharacters_RoundTrips(string value)
    {
        var payload = EmfPayload.Build(
            EmfSamples.Usage, EmfSamples.Namespace, [["Model"]], new Dictionary<string, string> { ["Model"] = value }, null, EmfSamples.NowMs, EmfSamples.Clock());
        var e = EmfAssert.ValidLine(payload.ToJsonString(), EmfSamples.NowMs);
        Assert.Equal(value, e["Model"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("gpt\n4", "gpt_4")]
    [InlineData("a\tb\0c", "a_b_c")]
    [InlineData("claude 👍🏽", "claude __")] // an emoji and its skin-tone modifier: two characters, two underscores
    [InlineData("東京-model", "__-model")]
    [InlineData("say \"hi\"\\", "say \"hi\"\\")]
    public void RuntimeDimensionValue_IsSanitizedToTheDocumentedForm(string value, string sanitized)
    {
        var result = EmfRules.SanitizeDimensionValue(value, "unknown", out var fix);
        Assert.Equal(sanitized, result);
        Assert.Equal(value == sanitized ? DimensionValueFix.None : DimensionValueFix.Sanitized, fix);

        var context = EmfContext.Create(EmfSamples.Namespace, [["Model"]], null);
        var buffer = new ArrayBufferWriter<byte>();
        new EmfEventWriter().WriteRecord(buffer, context, [result], [new UsageEntry("inputTokens", 1)], EmfSamples.NowMs);
        Assert.Equal(sanitized, EmfAssert.ValidLine(buffer.WrittenSpan, EmfSamples.NowMs)["Model"]!.GetValue<string>());
    }

    [Fact]
    public void LoneSurrogate_InARuntimeDimensionValue_BecomesOneUnderscore()
    {
        Assert.Equal("x_y", EmfRules.SanitizeDimensionValue("x" + '\uD800' + "y", "unknown", out var fix));
        Assert.Equal(DimensionValueFix.Sanitized, fix);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public void RuntimeDimensionValue_MissingOrBlank_BecomesTheMissingValue(string? value)
    {
        Assert.Equal("unknown", EmfRules.SanitizeDimensionValue(value, "unknown", out var fix));
        Assert.Equal(DimensionValueFix.Missing, fix);
    }

    [Fact]
    public void RuntimeDimensionValue_TooLong_IsCutTo1024()
    {
        var result = EmfRules.SanitizeDimensionValue(new string('x', 5000), "unknown", out var fix);
        Assert.Equal(1024, result.Length);
        Assert.Equal(DimensionValueFix.Sanitized, fix);
        Assert.Null(EmfRules.DimensionValueProblem(result));
    }
}
