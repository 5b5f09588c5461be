using System.CommandLine;
using System.Globalization;
using Lineage.Providers;

namespace Lineage.Cli.Commands;

/// <summary><c>lineage provider probe|diff|report|suite</c>: baseline a hosted model and notice when it changes.</summary>
internal static class ProviderCommand
{
    public static Command Create(CliContext context)
    {
        var command = new Command("provider", """
            The model you call rather than the one you load: record how an OpenAI-compatible endpoint behaves
            (probe), decide with statistics whether it changed since a baseline (diff), and follow it over time
            (report).

            Examples:
              lineage provider probe --base-url https://api.openai.com/v1 --model gpt-4o -o baseline.json
              lineage provider diff baseline.json today.json
              lineage provider report runs/*.json --report html trend.html
            """);
        command.Subcommands.Add(Probe(context));
        command.Subcommands.Add(Diff(context));
        command.Subcommands.Add(Report(context));
        command.Subcommands.Add(Suite(context));
        return command;
    }

    private static Command Probe(CliContext context)
    {
        var baseUrl = new Option<string>("--base-url") { Description = "API base URL, e.g. https://api.openai.com/v1 (/chat/completions is appended)", Required = true };
        var model = new Option<string>("--model", "-m") { Description = "Model name to ask for", Required = true };
        var suite = new Option<string?>("--suite") { Description = "Prompt suite (JSONL, docs/providers.md); default: the built-in suite of 50 prompts" };
        var runs = new Option<int>("--runs", "-n") { Description = "Times each prompt is sent (default 3; the answer-content test needs ≥ 2)", DefaultValueFactory = _ => 3 };
        var output = new Option<string?>("--output", "-o") { Description = "Write the run here (JSON); without it the run goes to stdout" };
        var keyEnv = new Option<string>("--api-key-env") { Description = "Environment variable holding the API key (default OPENAI_API_KEY); the key is never written anywhere", DefaultValueFactory = _ => "OPENAI_API_KEY" };
        var concurrency = new Option<int>("--concurrency", "-j") { Description = "Requests in flight at once (default 4)", DefaultValueFactory = _ => 4 };
        var timeout = new Option<double>("--timeout") { Description = "Seconds per attempt, to the end of the answer (default 60)", DefaultValueFactory = _ => 60 };
        var retries = new Option<int>("--retries") { Description = "Retries on 408/429/5xx, timeouts and dropped connections, with exponential backoff (default 4)", DefaultValueFactory = _ => 4 };
        var retryDelay = new Option<double>("--retry-delay") { Description = "Base backoff in seconds (default 1; Retry-After wins)", DefaultValueFactory = _ => 1 };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Completion budget for prompts that set none (default 256)", DefaultValueFactory = _ => 256 };
        var temperature = new Option<string>("--temperature") { Description = "Temperature to send while the model accepts one (default 0), or 'none'", DefaultValueFactory = _ => "0" };
        var stream = new Option<string>("--stream") { Description = "auto (default: stream when the server supports it), on, off", DefaultValueFactory = _ => "auto" };
        stream.AcceptOnlyFromAmong("auto", "on", "off");
        var insecure = new Option<bool>("--allow-insecure-http") { Description = "Allow sending the key over plain http to a host other than loopback" };
        var format = CommonOptions.Format("text", "json");

        var command = new Command("probe", """
            Sends a prompt suite to an OpenAI-compatible /chat/completions endpoint and records, per prompt and run:
            latency, time to first byte (first streamed chunk, or the response headers when not streaming), the
            returned model and system_fingerprint, finish reason, token usage, the answer, refusal markers and
            pass/fail of checkable prompts. Temperature 0 where the model allows it; bounded concurrency; a timeout
            per attempt; retries with exponential backoff and jitter on 408/429/5xx, timeouts and dropped
            connections. The key is read from --api-key-env and sent only as a bearer token to --base-url (redirects
            are not followed); it is redacted from every recorded error and answer.

            Exit codes: 0 the run was recorded and answers came back (failed requests are recorded as errors),
                        2 no request succeeded or the input is invalid, 4 usage.

            Examples:
              OPENAI_API_KEY=... lineage provider probe --base-url https://api.openai.com/v1 --model gpt-4o -o base.json
              lineage provider probe --base-url http://127.0.0.1:8000/v1 --model llama --suite my-suite.jsonl --runs 5 -o run.json
              lineage provider probe --base-url https://api.example.com/v1 --model m --api-key-env EXAMPLE_KEY > run.json
            """)
        {
            baseUrl, model, suite, runs, output, keyEnv, concurrency, timeout, retries, retryDelay, maxTokens, temperature, stream, insecure, format,
        };
        command.SetAction(parse => context.Run(() =>
        {
            if (!Uri.TryCreate(parse.GetValue(baseUrl), UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
                return Usage(context, "--base-url must be an absolute http(s) URL");
            double? temp;
            string t = parse.GetValue(temperature) ?? "0";
            if (t.Equals("none", StringComparison.OrdinalIgnoreCase)) temp = null;
            else if (double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double parsed) && parsed is >= 0 and <= 2) temp = parsed;
            else return Usage(context, "--temperature must be a number in 0..2 or 'none'");
            if (parse.GetValue(timeout) is not (> 0 and <= 3600)) return Usage(context, "--timeout must be in (0, 3600] seconds");
            if (parse.GetValue(retryDelay) is not (>= 0 and <= 600)) return Usage(context, "--retry-delay must be in [0, 600] seconds");
            if (parse.GetValue(runs) is < 1 or > 1000) return Usage(context, "--runs must be in 1..1000");
            if (parse.GetValue(concurrency) is < 1 or > 64) return Usage(context, "--concurrency must be in 1..64");
            if (parse.GetValue(retries) is < 0 or > 20) return Usage(context, "--retries must be in 0..20");

            string envName = parse.GetValue(keyEnv) ?? "OPENAI_API_KEY";
            string? key = Environment.GetEnvironmentVariable(envName);
            if (string.IsNullOrEmpty(key)) context.Stderr.WriteLine($"lineage: note: ${envName} is not set; sending no Authorization header");

            var promptSuite = parse.GetValue(suite) is { } suitePath ? PromptSuite.Load(suitePath) : PromptSuite.Default;
            var options = new ProbeOptions
            {
                BaseUrl = uri,
                Model = parse.GetValue(model)!,
                ApiKey = string.IsNullOrEmpty(key) ? null : key,
                Runs = parse.GetValue(runs),
                Concurrency = parse.GetValue(concurrency),
                Timeout = TimeSpan.FromSeconds(parse.GetValue(timeout)),
                MaxRetries = parse.GetValue(retries),
                RetryDelay = TimeSpan.FromSeconds(parse.GetValue(retryDelay)),
                DefaultMaxTokens = parse.GetValue(maxTokens),
                Temperature = temp,
                Stream = Enum.Parse<StreamMode>(parse.GetValue(stream) ?? "auto", ignoreCase: true),
                AllowInsecureHttp = parse.GetValue(insecure),
            };
            ProbeRun run;
            using (var progress = new ProgressReporter(context.Stderr, "probing"))
            {
                run = ProviderProbe.RunAsync(promptSuite, options, progress).GetAwaiter().GetResult();
            }
            string? path = parse.GetValue(output);
            var figures = RunFigures.Of(run, path);
            if (path is not null)
            {
                run.Save(path);
                if (parse.GetValue(format) == "json") Output.WriteJson(context.Stdout, figures);
                else WriteProbeSummary(context.Stdout, run, figures, path);
            }
            else
            {
                context.Stdout.WriteLine(run.ToJson());
                WriteProbeSummary(context.Stderr, run, figures, null);
            }
            foreach (var error in run.Results.Where(r => !r.Ok).Select(r => r.Error).Distinct().Take(3))
                context.Stderr.WriteLine($"lineage: request failed: {error}");
            if (figures.Requests > 0 && figures.Errors == figures.Requests)
            {
                Output.Error(context.Stderr, "no request succeeded");
                return ExitCodes.Error;
            }
            return ExitCodes.Success;
        }));
        return command;
    }

    private static void WriteProbeSummary(TextWriter w, ProbeRun run, RunFigures f, string? path)
    {
        int retries = run.Results.Sum(r => Math.Max(0, r.Attempts - 1));
        w.WriteLine($"probed {run.Model} at {run.BaseUrl}: {f.Requests} requests ({run.Settings.Runs} runs × {run.Suite.Prompts} prompts), {f.Errors} failed, {retries} retries");
        w.WriteLine($"  returned model: {(f.ReturnedModels.Count == 0 ? "-" : string.Join(", ", f.ReturnedModels))}; system_fingerprint: {(f.SystemFingerprints.Count == 0 ? "-" : string.Join(", ", f.SystemFingerprints))}");
        w.WriteLine($"  latency p50 {Ms(f.LatencyP50Ms)}, p90 {Ms(f.LatencyP90Ms)}; time to first byte p50 {Ms(f.TtfbP50Ms)} ({(run.Settings.Streaming ? "streamed" : "headers")})");
        w.WriteLine($"  refusals {Pct(f.RefusalRate)}; checkable answers passing {Pct(f.PassRate)}; temperature {(run.Settings.Temperature is double t ? t.ToString(CultureInfo.InvariantCulture) : "not accepted")}");
        w.WriteLine($"  suite {run.Suite.Name} {run.Suite.Hash}" + (path is null ? "" : $"; written to {path}"));
    }

    private static Command Diff(CliContext context)
    {
        var files = new Argument<string[]>("runs") { Description = "BASELINE.json [more baselines…] RUN.json: the last file is the current run", Arity = new ArgumentArity(2, 100) };
        var alpha = new Option<double>("--alpha") { Description = "Family-wise false-alarm rate over all statistical tests (Holm–Bonferroni; default 0.01)", DefaultValueFactory = _ => 0.01 };
        var ignoreFingerprint = new Option<bool>("--ignore-fingerprint") { Description = "Do not report system_fingerprint changes as model-version drift" };
        var allowSuite = new Option<bool>("--allow-suite-mismatch") { Description = "Compare runs of different suites on the prompt ids they share" };
        var permutations = new Option<int>("--permutations") { Description = "Permutations of the answer-content test (default 1999)", DefaultValueFactory = _ => 1999 };
        var format = CommonOptions.Format("text", "json");
        var command = new Command("diff", """
            Did the provider change? Compares a run with a baseline using statistics, not equality: answers,
            timings and refusals vary between runs even when nothing changed.

            Kinds of drift (stable ids):
              model-version  a returned model id never seen in the baseline, or system_fingerprints disjoint from it
              availability   more failed requests (Fisher's exact test)
              latency        shift of latency per prompt (Mann–Whitney U stratified by prompt; effect: rank-biserial)
              refusal-rate   refusals (Fisher's exact test)
              answers        checkable pass rate (Fisher's exact test), and content change of answers beyond the
                             baseline's own run-to-run variation (energy-distance permutation test on word and
                             character 3-gram Jaccard similarity)
              length         answer length per prompt (Mann–Whitney U stratified by prompt)
            False alarms: the statistical tests form one family corrected with Holm–Bonferroni, so an unchanged
            provider raises any alarm with probability at most --alpha (default 1%). A test also needs a minimum
            effect so that small, real but irrelevant shifts do not alarm: latency ×1.25 (either way) per prompt and
            rank-biserial ≥ 0.3; length ×1.2 and rank-biserial ≥ 0.3; a rate change ≥ 5 points; a similarity
            drop ≥ 0.05. model-version is an observation, not a test.
            Several baseline files are pooled (runs taken at different times capture day-to-day variation).

            Exit codes: 0 no drift, 1 drift, 2 error (unreadable run, different suites), 4 usage.

            Examples:
              lineage provider diff baseline.json today.json
              lineage provider diff mon.json tue.json wed.json today.json --format json
            """)
        {
            files, alpha, ignoreFingerprint, allowSuite, permutations, format,
        };
        command.SetAction(parse => context.Run(() =>
        {
            if (parse.GetValue(alpha) is not (> 0 and < 0.5)) return Usage(context, "--alpha must be in (0, 0.5)");
            if (parse.GetValue(permutations) is < 99 or > 1_000_000) return Usage(context, "--permutations must be in 99..1000000");
            var paths = parse.GetValue(files)!;
            var baselines = paths[..^1].Select(ProbeRun.Load).ToList();
            var current = ProbeRun.Load(paths[^1]);
            var options = new DiffOptions
            {
                Alpha = parse.GetValue(alpha),
                IgnoreFingerprint = parse.GetValue(ignoreFingerprint),
                AllowSuiteMismatch = parse.GetValue(allowSuite),
                Permutations = parse.GetValue(permutations),
            };
            var report = ProviderDiff.Compare(baselines, current, options, string.Join(", ", paths[..^1]), paths[^1]);
            if (parse.GetValue(format) == "json") Output.WriteJson(context.Stdout, report);
            else WriteDiffText(context.Stdout, report);
            return report.Summary.Drift ? ExitCodes.Findings : ExitCodes.Success;
        }));
        return command;
    }

    private static void WriteDiffText(TextWriter w, DriftReport report)
    {
        w.WriteLine($"baseline: {report.Baseline.File} ({report.Baseline.Model}, {report.Baseline.Requests} requests, {report.Baseline.StartedAt.UtcDateTime:yyyy-MM-dd HH:mm} UTC)");
        w.WriteLine($"current:  {report.Current.File} ({report.Current.Model}, {report.Current.Requests} requests, {report.Current.StartedAt.UtcDateTime:yyyy-MM-dd HH:mm} UTC)");
        w.WriteLine();
        foreach (var t in report.Tests)
        {
            string mark = t.Drifted ? "DRIFT" : "ok   ";
            string stats = t.PValue is double p
                ? $"p{Fmt(p)} adj{Fmt(t.PAdjusted ?? p)} effect={Effect(t.Effect ?? 0)}"
                : "observation";
            w.WriteLine($"{mark} {t.Kind,-13} {t.Test,-28} {stats}");
            w.WriteLine($"      {t.Detail}");
        }
        w.WriteLine();
        w.WriteLine(report.Summary.Text);
        foreach (var note in report.Summary.Notes) w.WriteLine($"note: {note}");
    }

    private static Command Report(CliContext context)
    {
        var files = new Argument<string[]>("runs") { Description = "Run files (any order; sorted by start time)", Arity = ArgumentArity.OneOrMore };
        var html = new Option<string[]>("--report") { Description = "html FILE: also write a self-contained HTML page with charts", Arity = new ArgumentArity(2, 2), AllowMultipleArgumentsPerToken = true };
        var format = CommonOptions.Format("text", "json");
        var command = new Command("report", """
            A trend table over runs: returned models, requests, errors, latency p50/p90, time to first byte,
            refusal rate, checkable pass rate, answer length. --report html FILE writes the same as a page with
            inline SVG charts (no scripts, no external resources).

            Examples:
              lineage provider report runs/*.json
              lineage provider report runs/*.json --report html trend.html
            """)
        {
            files, html, format,
        };
        command.SetAction(parse => context.Run(() =>
        {
            var report = parse.GetValue(html);
            if (report is { Length: > 0 } && (report.Length != 2 || !report[0].Equals("html", StringComparison.OrdinalIgnoreCase)))
                return Usage(context, "--report takes 'html FILE'");
            var paths = parse.GetValue(files)!;
            var trend = ProviderTrend.Build(paths.Select(p => (ProbeRun.Load(p), (string?)p)));
            if (parse.GetValue(format) == "json") Output.WriteJson(context.Stdout, new { runs = trend.Runs });
            else trend.WriteText(context.Stdout);
            if (report is { Length: 2 })
            {
                try
                {
                    using var writer = new StreamWriter(report[1]);
                    trend.WriteHtml(writer, $"Provider trend: {string.Join(", ", trend.Runs.Select(r => r.Model).Distinct())}");
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new LineageException(e.Message, report[1], inner: e);
                }
                context.Stderr.WriteLine($"lineage: wrote {report[1]}");
            }
            return ExitCodes.Success;
        }));
        return command;
    }

    private static Command Suite(CliContext context)
    {
        var file = new Argument<string?>("suite") { Description = "A suite file to validate (default: print the built-in suite)", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("suite", """
            Prints the built-in prompt suite (JSONL, the documented format), or validates a suite file and prints
            its name, prompt count and hash.

            Examples:
              lineage provider suite > my-suite.jsonl
              lineage provider suite my-suite.jsonl
            """)
        {
            file,
        };
        command.SetAction(parse => context.Run(() =>
        {
            if (parse.GetValue(file) is { } path)
            {
                var suite = PromptSuite.Load(path);
                context.Stdout.WriteLine($"{suite.Name}: {suite.Prompts.Count} prompts ({suite.Prompts.Count(p => p.Expect is not null)} checkable), format version {suite.Version}, {suite.Hash}");
                return ExitCodes.Success;
            }
            using var stream = typeof(PromptSuite).Assembly.GetManifestResourceStream("Lineage.Providers.default-suite.jsonl")!;
            using var reader = new StreamReader(stream);
            context.Stdout.Write(reader.ReadToEnd());
            return ExitCodes.Success;
        }));
        return command;
    }

    private static int Usage(CliContext context, string message)
    {
        Output.Error(context.Stderr, message);
        return ExitCodes.Usage;
    }

    private static string Fmt(double x) => x == 0 ? "<1e-15" : "=" + (Math.Abs(x) < 1e-3 ? x.ToString("0.0e0", CultureInfo.InvariantCulture) : x.ToString("0.###", CultureInfo.InvariantCulture));

    private static string Effect(double x) => x.ToString("0.###", CultureInfo.InvariantCulture);

    private static string Ms(double? x) => x is double d ? d.ToString("0.#", CultureInfo.InvariantCulture) + " ms" : "-";

    private static string Pct(double? x) => x is double d ? (d * 100).ToString("0.#", CultureInfo.InvariantCulture) + "%" : "-";
}
