using System.Text;
using Lineage.Providers;

namespace Lineage.Tests.Providers;

public sealed class PromptSuiteTests
{
    [Fact]
    public void The_builtin_suite_has_fifty_prompts_of_every_category()
    {
        var suite = PromptSuite.Default;
        Assert.Equal(50, suite.Prompts.Count);
        Assert.Equal("lineage-default", suite.Name);
        Assert.Equal(["arithmetic", "borderline", "factual", "format", "free", "long"], suite.Prompts.Select(p => p.Category).Distinct().Order());
        Assert.True(suite.Prompts.Count(p => p.Expect is not null) >= 25);
        Assert.StartsWith("sha256:", suite.Hash, StringComparison.Ordinal);
        Assert.Equal(71, suite.Hash.Length);
    }

    [Fact]
    public void The_builtin_expectations_accept_the_right_answers()
    {
        var byId = PromptSuite.Default.Prompts.ToDictionary(p => p.Id);
        Assert.True(AnswerChecks.Passes(byId["arith-mul"].Expect!, "391"));
        Assert.True(AnswerChecks.Passes(byId["arith-mul"].Expect!, "17 × 23 = 391."));
        Assert.False(AnswerChecks.Passes(byId["arith-mul"].Expect!, "391? No, 392"));
        Assert.True(AnswerChecks.Passes(byId["arith-negative"].Expect!, "−27"));
        Assert.True(AnswerChecks.Passes(byId["fact-speed-light"].Expect!, "300,000"));
        Assert.True(AnswerChecks.Passes(byId["format-json"].Expect!, "{\"capital_of_japan\": \"Tokyo\"}"));
        Assert.True(AnswerChecks.Passes(byId["format-list"].Expect!, "red, green, blue"));
        Assert.True(AnswerChecks.Passes(byId["format-ok"].Expect!, " \"OK\" "));
        Assert.False(AnswerChecks.Passes(byId["format-ok"].Expect!, "ok"));
        Assert.True(AnswerChecks.Passes(byId["fact-capital-australia"].Expect!, "canberra."));
        Assert.True(AnswerChecks.Passes(byId["fact-author"].Expect!, "Jane Austen"));
        Assert.False(AnswerChecks.Passes(byId["fact-gold"].Expect!, "AU"));
    }

    [Fact]
    public void Refusals_are_spotted_at_the_start_only()
    {
        Assert.NotEmpty(AnswerChecks.FindRefusalMarkers("I’m sorry, but I can’t help with that.", null, "stop"));
        Assert.Equal(["refusal-field"], AnswerChecks.FindRefusalMarkers("", "I cannot comply", "stop"));
        Assert.Equal(["content-filter"], AnswerChecks.FindRefusalMarkers("", null, "content_filter"));
        Assert.Empty(AnswerChecks.FindRefusalMarkers("Paris is the capital of France.", null, "stop"));
        string longAnswer = new string('x', 400) + " I cannot help";
        Assert.Empty(AnswerChecks.FindRefusalMarkers(longAnswer, null, "stop"));
    }

    [Fact]
    public void The_hash_ignores_formatting_and_description_but_not_content()
    {
        const string a = "{\"lineage_suite\": 1, \"name\": \"s\", \"description\": \"one\"}\n{\"id\": \"x\", \"prompt\": \"Say hi\", \"expect\": {\"type\": \"exact\", \"value\": \"hi\"}}\n";
        const string b = "\uFEFF{ \"name\":\"s\",\"lineage_suite\":1,\"description\":\"two\" }\r\n\r\n{\"expect\":{\"value\":\"hi\",\"type\":\"exact\"},\"prompt\":\"Say hi\",\"id\":\"x\"}";
        const string c = "{\"lineage_suite\": 1, \"name\": \"s\"}\n{\"id\": \"x\", \"prompt\": \"Say hello\", \"expect\": {\"type\": \"exact\", \"value\": \"hi\"}}\n";
        var ha = PromptSuite.Parse(Encoding.UTF8.GetBytes(a), "a").Hash;
        Assert.Equal(ha, PromptSuite.Parse(Encoding.UTF8.GetBytes(b), "b").Hash);
        Assert.NotEqual(ha, PromptSuite.Parse(Encoding.UTF8.GetBytes(c), "c").Hash);
    }

    [Theory]
    [InlineData("", "empty suite", 0)]
    [InlineData("{\"name\": \"s\"}\n", "header", 0)]
    [InlineData("{\"lineage_suite\": 2, \"name\": \"s\"}\n", "unsupported suite format version 2", 0)]
    [InlineData("{\"lineage_suite\": 1, \"name\": \"s\"}\n", "no prompts", 34)]
    [InlineData("{\"lineage_suite\": 1, \"name\": \"s\"}\n{\"id\": \"a\", \"prompt\": \"p\", \"temp\": 1}\n", "unknown prompt field 'temp'", 34)]
    [InlineData("{\"lineage_suite\": 1, \"name\": \"s\"}\n{\"id\": \"a\", \"prompt\": \"p\"}\n{\"id\": \"a\", \"prompt\": \"q\"}\n", "duplicate prompt id 'a'", 61)]
    [InlineData("{\"lineage_suite\": 1, \"name\": \"s\"}\n{\"id\": \"a\", \"prompt\": \"p\", \"expect\": {\"type\": \"regex\", \"pattern\": \"(\"}}\n", "invalid regular expression", 34)]
    [InlineData("{\"lineage_suite\": 1, \"name\": \"s\"}\n{\"id\": \"a b\", \"prompt\": \"p\"}\n", "\"id\" must be", 34)]
    [InlineData("{\"lineage_suite\": 1, \"name\": \"s\"}\n{\"id\": \"a\", \"prompt\": \"p\", \"max_tokens\": 0}\n", "max_tokens", 34)]
    [InlineData("{\"lineage_suite\": 1, \"name\": \"s\"}\n{\"id\": \"a\", \"prompt\": \"p\", \"expect\": {\"type\": \"numeric\", \"value\": \"7\"}}\n", "numeric expectation", 34)]
    [InlineData("{\"lineage_suite\": 1, \"name\": \"s\"}\n[1, 2]\n", "expected a JSON object", 34)]
    [InlineData("{\"lineage_suite\": 1, \"name\": \"s\"}\n{\"id\": \"a\", \"prompt\": \"p\"\n", "not a JSON object", 34)]
    public void Bad_suites_are_refused_with_the_line_offset(string text, string message, long offset)
    {
        var e = Assert.Throws<LineageException>(() => PromptSuite.Parse(Encoding.UTF8.GetBytes(text), "suite.jsonl"));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
        Assert.Equal("suite.jsonl", e.File);
        Assert.Equal(offset, e.Offset);
    }

    [Fact]
    public void The_redactor_masks_the_key_and_its_fragments()
    {
        var redactor = new Redactor("sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX");
        Assert.Equal("key [redacted] bad", redactor.Apply("key sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX bad"));
        string partial = redactor.Apply("Incorrect API key provided: sk-proj-ABCD************UVWX.")!;
        Assert.DoesNotContain("sk-proj-", partial, StringComparison.Ordinal);
        Assert.Equal("nothing secret here", redactor.Apply("nothing secret here"));
        Assert.Equal("text", new Redactor(null).Apply("text"));
    }
}
