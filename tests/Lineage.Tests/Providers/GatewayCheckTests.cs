using System.Text;
using System.Text.Json;
using Lineage.Providers;
using Lineage.Security;
using Lineage.Tests.Cli;
using Lineage.Tests.Support;

namespace Lineage.Tests.Providers;

/// <summary><c>lineage gateway check</c> on LiteLLM config fixtures: one per rule, a clean one, and hostile YAML.</summary>
public sealed class GatewayCheckTests
{
    private const string OpenAiKey = "sk-proj-9fK2mQ7xL4vB8nT1rW6yZ3cH5jD0gS2a";
    private const string AnthropicKey = "sk-ant-api03-Xy8Wq2Lm5Np7Rt1Vz4Bc6Df9Gh3Jk0";
    private const string MasterKey = "sk-1234";
    private const string DbPassword = "hunter2hunter2";

    /// <summary>Pinned snapshots, cross-provider fallbacks, secrets from the environment: no findings.</summary>
    private const string Clean = """
        model_list:
          - model_name: chat
            litellm_params:
              model: openai/gpt-4o-2024-08-06
              api_key: os.environ/OPENAI_API_KEY
          - model_name: chat-backup
            litellm_params:
              model: anthropic/claude-3-5-sonnet-20241022
              api_key: os.environ/ANTHROPIC_API_KEY
          - model_name: fast
            litellm_params:
              model: gemini/gemini-1.5-flash-002
              api_key: os.environ/GEMINI_API_KEY
            model_info:
              mode: chat
          - model_name: fast
            litellm_params:
              model: mistral/mistral-small-2409
              api_key: os.environ/MISTRAL_API_KEY
        router_settings:
          routing_strategy: simple-shuffle
          num_retries: 2
          fallbacks:
            - chat: ["chat-backup"]
        litellm_settings:
          drop_params: true
        general_settings:
          master_key: os.environ/LITELLM_MASTER_KEY
          database_url: os.environ/DATABASE_URL
        """;

    private const string Messy = $$"""
        model_list:
          - model_name: gpt4
            litellm_params:
              model: openai/gpt-4o
              api_key: {{OpenAiKey}}
          - model_name: claude
            litellm_params:
              model: anthropic/claude-3-5-sonnet-latest
              api_key: "{{AnthropicKey}}"
              temprature: 0.2
          - model_name: mini
            litellm_params:
              model: gpt-4o-mini-2024-07-18
              api_key: os.environ/OPENAI_API_KEY
          - model_name: mini-backup
            litellm_params:
              model: openai/gpt-3.5-turbo-0125
              api_key: os.environ/OPENAI_API_KEY
          - model_name: local
            litellm_params:
              model: ollama/llama3
              api_base: http://localhost:11434
        router_settings:
          fallbacks:
            - gpt4: ["claude"]
            - mini: ["mini-backup"]
          fallback:
            - local: ["gpt4"]
        general_settings:
          master_key: {{MasterKey}}
          database_url: postgresql://litellm:{{DbPassword}}@db:5432/litellm
        environment_variables:
          REDIS_PASSWORD: plain-redis-password
          REDIS_HOST: redis
        """;

    private static GatewayReport Check(string yaml) => GatewayCheck.Check(yaml, "config.yaml");

    [Fact]
    public void A_clean_config_has_no_findings()
    {
        var report = Check(Clean);
        Assert.Empty(report.Findings);
        Assert.Equal(3, report.ModelGroups);
        Assert.Equal(4, report.Deployments);
    }

    [Fact]
    public void Inline_secrets_are_found_and_never_shown()
    {
        var report = Check(Messy);
        var secrets = report.Findings.Where(f => f.Rule == "inline-secret").ToList();
        Assert.Contains(secrets, f => f.ModelName == "gpt4" && f.Path == "model_list[0].litellm_params.api_key" && f.Line == 5 && f.Message.Contains("OpenAI-style", StringComparison.Ordinal));
        Assert.Contains(secrets, f => f.ModelName == "claude" && f.Message.Contains("Anthropic", StringComparison.Ordinal));
        Assert.Contains(secrets, f => f.ModelName is null && f.Path == "general_settings.master_key");
        Assert.Contains(secrets, f => f.Path == "general_settings.database_url" && f.Message.Contains("password", StringComparison.Ordinal));
        Assert.Contains(secrets, f => f.Path == "environment_variables.REDIS_PASSWORD");
        Assert.DoesNotContain(secrets, f => f.Path == "environment_variables.REDIS_HOST");
        Assert.DoesNotContain(secrets, f => f.Path!.EndsWith("api_base", StringComparison.Ordinal));
        Assert.All(secrets, f => Assert.Equal(Severity.High, f.Severity));
        string all = string.Join("\n", report.Findings.Select(f => f.Message + f.Path));
        foreach (var secret in new[] { OpenAiKey, AnthropicKey, MasterKey, DbPassword, "plain-redis-password" })
            Assert.DoesNotContain(secret, all, StringComparison.Ordinal);
    }

    [Fact]
    public void Moving_aliases_are_unpinned_and_dated_snapshots_are_not()
    {
        var report = Check(Messy);
        var unpinned = report.Findings.Where(f => f.Rule == "unpinned-model").ToDictionary(f => f.ModelName!);
        Assert.Equal(["claude", "gpt4", "local"], unpinned.Keys.Order());
        Assert.Contains("gpt-4o-2024-08-06", unpinned["gpt4"].Message, StringComparison.Ordinal);
        Assert.Contains("-latest", unpinned["claude"].Message, StringComparison.Ordinal);
        Assert.Contains("Ollama", unpinned["local"].Message, StringComparison.Ordinal);
        Assert.Equal("model_list[0].litellm_params.model", unpinned["gpt4"].Path);
    }

    [Theory]
    [InlineData("openai/gpt-4o", true)]
    [InlineData("gpt-4o", true)]
    [InlineData("gpt-4o-2024-08-06", false)]
    [InlineData("openai/gpt-3.5-turbo-0125", false)]
    [InlineData("o3-mini", true)]
    [InlineData("o3-mini-2025-01-31", false)]
    [InlineData("chatgpt-4o-latest", true)]
    [InlineData("anthropic/claude-sonnet-4-5", true)]
    [InlineData("anthropic/claude-sonnet-4-5-20250929", false)]
    [InlineData("vertex_ai/claude-3-5-sonnet-v2@20241022", false)]
    [InlineData("vertex_ai/claude-3-5-sonnet-v2", true)]
    [InlineData("gemini/gemini-1.5-pro", true)]
    [InlineData("gemini/gemini-1.5-pro-002", false)]
    [InlineData("mistral/mistral-large-latest", true)]
    [InlineData("mistral/mistral-large-2411", false)]
    [InlineData("mistral/mistral-large", true)]
    [InlineData("ollama/llama3:8b-instruct-q4_0", false)]
    [InlineData("ollama/llama3:latest", true)]
    [InlineData("openai/*", true)]
    [InlineData("openrouter/openai/gpt-4o", true)]
    [InlineData("azure/my-gpt4o-deployment", false)]
    [InlineData("bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0", false)]
    [InlineData("hosted_vllm/meta-llama/Llama-3.1-8B-Instruct", false)]
    public void The_alias_table(string model, bool unpinned) => Assert.Equal(unpinned, ModelPinning.FindUnpinned(model) is not null);

    [Fact]
    public void Groups_without_a_fallback_and_same_provider_fallbacks()
    {
        var report = Check(Messy);
        // local: one deployment, no fallback (the misspelt 'fallback' key does not count); claude is a fallback itself.
        var none = report.Findings.Where(f => f.Rule == "no-fallback").Select(f => f.ModelName).ToList();
        Assert.Equal(["local"], none);
        // mini falls back to mini-backup, also on OpenAI.
        var same = Assert.Single(report.Findings, f => f.Rule == "same-provider-fallback");
        Assert.Equal("mini", same.ModelName);
        Assert.Contains("openai", same.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Fallback_edge_cases()
    {
        const string yaml = """
            model_list:
              - model_name: a
                litellm_params: { model: openai/gpt-4o-2024-08-06 }
              - model_name: a
                litellm_params: { model: azure/gpt-4o-eu, api_base: https://eu.example.invalid }
              - model_name: b
                litellm_params: { model: openai/gpt-4o-2024-08-06 }
              - model_name: b
                litellm_params: { model: openai/gpt-4o-2024-11-20 }
              - model_name: c
                litellm_params: { model: openai/gpt-4o-2024-08-06 }
              - model_name: d
                litellm_params: { model: openai/llama, api_base: https://vllm.internal.invalid/v1 }
              - model_name: e
                litellm_params: { model: openai/gpt-4o-2024-08-06 }
            litellm_settings:
              fallbacks: [{"c": ["missing"]}, {"e": ["d"]}]
            """;
        var report = Check(yaml);
        // a: two providers in the group. b: two deployments, one provider. c: its fallback does not exist.
        // d: a fallback target. e: falls back to a self-hosted OpenAI-compatible server (another provider).
        Assert.DoesNotContain(report.Findings, f => f.ModelName is "a" or "d" or "e");
        Assert.Equal("same-provider-fallback", Assert.Single(report.Findings, f => f.ModelName == "b").Rule);
        var c = Assert.Single(report.Findings, f => f.ModelName == "c");
        Assert.Equal("no-fallback", c.Rule);
        Assert.Contains("missing", c.Message, StringComparison.Ordinal);

        var withDefaults = Check(yaml + "\nrouter_settings:\n  default_fallbacks: [\"d\"]\n");
        Assert.DoesNotContain(withDefaults.Findings, f => f.Rule == "no-fallback");
    }

    [Fact]
    public void Unknown_fields_suggest_the_known_key()
    {
        var report = Check(Messy);
        var unknown = report.Findings.Where(f => f.Rule == "unknown-field").ToList();
        Assert.Contains(unknown, f => f.ModelName == "claude" && f.Message.Contains("'temprature'", StringComparison.Ordinal) && f.Message.Contains("'temperature'", StringComparison.Ordinal));
        Assert.Contains(unknown, f => f.Path == "router_settings.fallback" && f.Message.Contains("did you mean 'fallbacks'", StringComparison.Ordinal));
        Assert.Equal(2, unknown.Count);
        Assert.All(unknown, f => Assert.Equal(Severity.Low, f.Severity));
    }

    [Fact]
    public void Cli_exit_codes_and_json()
    {
        using var dir = new TempDir();
        string clean = dir.Write("clean.yaml", Clean);
        string messy = dir.Write("messy.yaml", Messy);

        var ok = CliRunner.Run("gateway", "check", clean);
        Assert.Equal(0, ok.ExitCode);
        Assert.Contains("clean", ok.Stdout, StringComparison.Ordinal);

        var text = CliRunner.Run("gateway", "check", messy);
        Assert.Equal(1, text.ExitCode);
        Assert.Contains("inline-secret [gpt4]", text.Stdout, StringComparison.Ordinal);
        var json = CliRunner.Run("gateway", "check", messy, "--format", "json");
        Assert.Equal(1, json.ExitCode);
        foreach (var output in new[] { text.Stdout, text.Stderr, json.Stdout, json.Stderr })
        {
            foreach (var secret in new[] { OpenAiKey, AnthropicKey, DbPassword, "plain-redis-password" })
                Assert.DoesNotContain(secret, output, StringComparison.Ordinal);
        }
        using (var doc = JsonDocument.Parse(json.Stdout))
        {
            var findings = doc.RootElement.GetProperty("findings").EnumerateArray().ToList();
            Assert.All(findings, f =>
            {
                Assert.True(f.TryGetProperty("rule", out _));
                Assert.True(f.TryGetProperty("severity", out _));
            });
            Assert.Equal(["inline-secret", "no-fallback", "same-provider-fallback", "unknown-field", "unpinned-model"],
                findings.Select(f => f.GetProperty("rule").GetString()).Distinct().Order());
            Assert.Contains(findings, f => f.TryGetProperty("model_name", out var m) && m.GetString() == "gpt4");
            Assert.True(doc.RootElement.GetProperty("summary").GetProperty("failed").GetBoolean());
        }

        // Only low findings: below the default --fail-on medium, at or above --fail-on low.
        string low = dir.Write("low.yaml", Clean.Replace("drop_params: true", "drop_parms: true", StringComparison.Ordinal));
        Assert.Equal(0, CliRunner.Run("gateway", "check", low).ExitCode);
        Assert.Equal(1, CliRunner.Run("gateway", "check", low, "--fail-on", "low").ExitCode);
        Assert.Equal(0, CliRunner.Run("gateway", "check", messy, "--fail-on", "critical").ExitCode);

        Assert.Equal(2, CliRunner.Run("gateway", "check", dir.File("missing.yaml")).ExitCode);
        Assert.Equal(4, CliRunner.Run("gateway", "check", clean, "--fail-on", "severe").ExitCode);
    }

    [Theory]
    [InlineData("model_list: [\n  - model_name: a\n", "YAML error")]
    [InlineData("- just\n- a list\n", "not a mapping")]
    [InlineData("router_settings:\n  num_retries: 2\n", "no model_list")]
    [InlineData("model_list: 7\n", "not a list")]
    [InlineData("", "no YAML document")]
    [InlineData("model_list: []\nmodel_list: []\n", "Duplicate key")]
    public void Unusable_files_are_errors(string yaml, string message)
    {
        var e = Assert.Throws<LineageException>(() => Check(yaml));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
        Assert.Equal("config.yaml", e.File);
    }

    [Fact]
    public void Secrets_behind_aliases_and_merge_keys_are_found()
    {
        string yaml = $$"""
            shared: &creds
              api_key: {{OpenAiKey}}
            model_list:
              - model_name: a
                litellm_params:
                  <<: *creds
                  model: openai/gpt-4o-2024-08-06
            """;
        var report = Check(yaml);
        Assert.Contains(report.Findings, f => f.Rule == "inline-secret");
        Assert.DoesNotContain(report.Findings, f => f.Message.Contains(OpenAiKey, StringComparison.Ordinal));
        // The merge key is resolved, not reported as an unknown litellm_params field.
        Assert.DoesNotContain(report.Findings, f => f.Rule == "unknown-field" && f.Message.Contains("<<", StringComparison.Ordinal));
    }

    [Fact]
    public void Hostile_yaml_is_bounded()
    {
        // Deep nesting.
        string deep = "model_list: []\nx: " + new string('[', 5000) + new string(']', 5000) + "\n";
        Assert.Contains("nesting", Assert.Throws<LineageException>(() => Check(deep)).Message, StringComparison.Ordinal);

        // A billion-laughs alias bomb: ten levels of ten references each.
        var bomb = new StringBuilder("model_list: []\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for (int i = 1; i <= 10; i++) bomb.Append($"a{i}: &a{i} [{string.Join(", ", Enumerable.Repeat($"*a{i - 1}", 10))}]\n");
        // Each node is walked once, however often aliases repeat it: the check ends at once with the eleven
        // unknown top-level keys as its only findings.
        var report = Check(bomb.ToString());
        Assert.Equal(11, report.Findings.Count);
        Assert.All(report.Findings, f => Assert.Equal("unknown-field", f.Rule));
    }
}
