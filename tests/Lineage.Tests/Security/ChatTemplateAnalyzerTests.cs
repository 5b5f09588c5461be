using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Lineage.Security;
using Lineage.Security.Templates;
using Lineage.Tests.Support;

namespace Lineage.Tests.Security;

public class ChatTemplateAnalyzerTests
{
    private const string Samples = "scanner/modelaudit/samples/jinja2";

    private static IReadOnlyList<Finding> Analyze(string template) => ChatTemplateAnalyzer.Analyze(template, TemplateOrigin.At("chat_template", 0));

    private static Severity? Worst(IReadOnlyList<Finding> findings) => findings.Count == 0 ? null : findings.Max(f => f.Severity);

    private static IEnumerable<string> SampleFiles(string folder) =>
        Directory.EnumerateFiles(Corpus.Path($"{Samples}/{folder}"), "*", SearchOption.TopDirectoryOnly).Order(StringComparer.Ordinal);

    private static FileReport ScanFile(string path) => Scanner.Scan([path]).Files.Single();

    [Fact]
    public void Every_malicious_sample_is_critical()
    {
        var files = SampleFiles("malicious").Concat(SampleFiles(".").Where(f => Path.GetFileName(f).StartsWith("malicious", StringComparison.Ordinal)))
            .Append(Corpus.Path($"{Samples}/tokenizer_config.json"))
            .Append(Corpus.Path($"{Samples}/standalone/malicious_standalone.jinja"))
            .Append(Corpus.Path($"{Samples}/yaml/malicious_config.yaml"))
            .ToList();
        Assert.True(files.Count >= 19, $"expected the malicious samples, found {files.Count}");
        foreach (var file in files)
        {
            var report = ScanFile(file);
            Assert.True(report.Status == FileStatus.Scanned, $"{file}: {report.Status} {report.Error}");
            Assert.True(report.HighestSeverity == Severity.Critical, $"{file}: worst {report.HighestSeverity}");
            Assert.All(report.Findings.Where(f => f.Rule.StartsWith("LIN-JINJA", StringComparison.Ordinal)), f => Assert.NotNull(f.Evidence));
        }
    }

    [Fact]
    public void Every_obfuscated_sample_is_critical_and_names_what_was_hidden()
    {
        var files = SampleFiles("obfuscated").ToList();
        Assert.Equal(4, files.Count);
        foreach (var file in files)
            Assert.Equal(Severity.Critical, ScanFile(file).HighestSeverity);

        var chars = ScanFile(Corpus.Path($"{Samples}/obfuscated/char_construction.json"));
        Assert.Contains(chars.Findings, f => f.Rule == "LIN-JINJA-005" && f.Message.Contains("__builtins__", StringComparison.Ordinal));
        var b64 = ScanFile(Corpus.Path($"{Samples}/obfuscated/base64_payload.json"));
        Assert.Contains(b64.Findings, f => f.Rule == "LIN-JINJA-008" && f.Message.Contains("system('echo pwned')", StringComparison.Ordinal));
        var getattr = ScanFile(Corpus.Path($"{Samples}/obfuscated/getattr_bypass.json"));
        Assert.Contains(getattr.Findings, f => f.Rule == "LIN-JINJA-003" && f.Message.Contains("getattr", StringComparison.Ordinal));
        var hex = ScanFile(Corpus.Path($"{Samples}/malicious/hex_bypass.json"));
        Assert.Contains(hex.Findings, f => f.Rule == "LIN-JINJA-007");
        Assert.Contains(hex.Findings, f => f.Rule == "LIN-JINJA-001" && f.Message.Contains("__globals__", StringComparison.Ordinal));
    }

    [Fact]
    public void Every_benign_sample_is_clean()
    {
        var files = SampleFiles("benign").Concat(SampleFiles(".").Where(f => Path.GetFileName(f).StartsWith("benign", StringComparison.Ordinal)))
            .Append(Corpus.Path($"{Samples}/standalone/benign_chat.j2"))
            .Append(Corpus.Path($"{Samples}/standalone/suspicious_benign.template"))
            .Append(Corpus.Path($"{Samples}/yaml/model_config.yaml"))
            .ToList();
        Assert.True(files.Count >= 13, $"expected the benign samples, found {files.Count}");
        foreach (var file in files)
        {
            var report = ScanFile(file);
            Assert.True(report.Status == FileStatus.Scanned, $"{file}: {report.Status} {report.Note}");
            Assert.True(report.Findings.Count == 0, $"{file}: {string.Join("; ", report.Findings.Select(f => f.Message))}");
        }
    }

    [Fact]
    public void Edge_cases_get_the_documented_results()
    {
        Assert.Empty(ScanFile(Corpus.Path($"{Samples}/edge_cases/empty_template.json")).Findings);
        Assert.Empty(ScanFile(Corpus.Path($"{Samples}/edge_cases/no_template.json")).Findings);

        var malformed = ScanFile(Corpus.Path($"{Samples}/edge_cases/malformed_template.json"));
        Assert.Equal("LIN-JINJA-009", Assert.Single(malformed.Findings).Rule);
        Assert.Equal(Severity.Low, malformed.HighestSeverity);

        var multiple = ScanFile(Corpus.Path($"{Samples}/edge_cases/multiple_templates.json"));
        Assert.Equal(Severity.Critical, multiple.HighestSeverity);
        Assert.All(multiple.Findings, f => Assert.StartsWith("custom_chat_template", f.Message, StringComparison.Ordinal));

        var oversized = ScanFile(Corpus.Path($"{Samples}/edge_cases/oversized_template.json"));
        Assert.Equal(FileStatus.Scanned, oversized.Status);
        Assert.Equal("LIN-JINJA-010", Assert.Single(oversized.Findings).Rule);
        Assert.Equal(Severity.Info, oversized.HighestSeverity);
    }

    [Fact]
    public void Real_tokenizer_chat_templates_are_clean()
    {
        var config = Corpus.Path("real/tokenizers/ortx/phi-3-mini/tokenizer_config.json");
        using (var doc = JsonDocument.Parse(File.ReadAllBytes(config)))
            Assert.Contains("{% for message in messages %}", doc.RootElement.GetProperty("chat_template").GetString(), StringComparison.Ordinal);
        Assert.Empty(ScanFile(config).Findings);

        string gguf = GgufChatTemplate(Corpus.Path("real/tokenizers/llamacpp-vocab/ggml-vocab-phi-3.gguf"));
        Assert.Contains("messages", gguf, StringComparison.Ordinal);
        Assert.Empty(Analyze(gguf));

        foreach (var file in Directory.EnumerateFiles(Corpus.Path("real"), "tokenizer_config.json", SearchOption.AllDirectories))
            Assert.True(ScanFile(file).Findings.Count == 0, file);
    }

    /// <summary>Benign templates written in the style of widely used chat formats (role loops, tools, namespaces).</summary>
    public static TheoryData<string> BenignTemplates => new()
    {
        // Llama-3 style: header ids, system message extraction, date, tools as JSON, namespace, trim, raise_exception.
        """
        {{- bos_token }}
        {%- if custom_tools is defined %}{%- set tools = custom_tools %}{%- endif %}
        {%- if not date_string is defined %}
            {%- if strftime_now is defined %}{%- set date_string = strftime_now("%d %b %Y") %}{%- else %}{%- set date_string = "26 Jul 2024" %}{%- endif %}
        {%- endif %}
        {%- if messages[0]['role'] == 'system' %}
            {%- set system_message = messages[0]['content']|trim %}
            {%- set messages = messages[1:] %}
        {%- else %}
            {%- set system_message = "" %}
        {%- endif %}
        {{- "<|start_header_id|>system<|end_header_id|>\n\n" }}
        {{- "Today Date: " + date_string + "\n\n" }}
        {%- if tools is not none %}
            {{- "You have access to the following functions:\n\n" }}
            {%- for t in tools %}{{- t | tojson(indent=4) }}{{- "\n\n" }}{%- endfor %}
        {%- endif %}
        {{- system_message }}{{- "<|eot_id|>" }}
        {%- set ns = namespace(found_user=false, idx=0) %}
        {%- for message in messages %}
            {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}
                {{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}
            {%- endif %}
            {%- if message.role == 'user' %}{%- set ns.found_user = true %}{%- endif %}
            {%- set ns.idx = ns.idx + 1 %}
            {%- if 'tool_calls' in message %}
                {%- for tool_call in message.tool_calls %}
                    {%- set call = tool_call.function if tool_call.function is defined else tool_call %}
                    {{- '{"name": "' + call.name + '", "parameters": ' + call.arguments | tojson + '}' }}
                {%- endfor %}
            {%- else %}
                {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' }}
            {%- endif %}
        {%- endfor %}
        {%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{%- endif %}
        """,
        // ChatML with tools, selectattr/map, is string / is mapping tests, loop controls and dict items.
        """
        {%- if tools %}
            {{- '<|im_start|>system\n' }}
            {%- if messages[0].role == 'system' %}{{- messages[0].content + '\n\n' }}{%- endif %}
            {{- "# Tools\n\n<tools>" }}
            {%- for tool in tools %}{{- "\n" }}{{- tool | tojson }}{%- endfor %}
            {{- "\n</tools><|im_end|>\n" }}
        {%- endif %}
        {%- set images = messages | selectattr('type', 'equalto', 'image') | list %}
        {%- set names = tools | default([]) | map(attribute='name') | join(', ') %}
        {%- for message in messages %}
            {%- if loop.index0 > 64 %}{% break %}{% endif %}
            {%- if message.content is string %}
                {%- set content = message.content %}
            {%- elif message.content is iterable %}
                {%- set content = message.content | map(attribute='text') | join('') %}
            {%- endif %}
            {%- if message.role == "user" or (message.role == "system" and not loop.first) %}
                {{- '<|im_start|>' + message.role + '\n' + content + '<|im_end|>' + '\n' }}
            {%- elif message.role == "assistant" %}
                {{- '<|im_start|>' + message.role }}
                {%- if content %}{{- '\n' + content.strip() }}{%- endif %}
                {%- for tool_call in message.tool_calls | default([]) %}
                    {%- if tool_call.function is mapping %}{%- set tool_call = tool_call.function %}{%- endif %}
                    {{- '\n<tool_call>\n{"name": "' }}{{- tool_call.name }}{{- '", "arguments": ' }}
                    {%- if tool_call.arguments is string %}{{- tool_call.arguments }}{%- else %}{{- tool_call.arguments | tojson }}{%- endif %}
                    {{- '}\n</tool_call>' }}
                {%- endfor %}
                {{- '<|im_end|>\n' }}
            {%- elif message.role == "tool" %}
                {%- for key, value in message.get('metadata', {}).items() %}{{- key ~ '=' ~ value }}{%- endfor %}
                {{- '<tool_response>\n' + content + '\n</tool_response>' }}
            {%- endif %}
        {%- endfor %}
        {%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}{%- endif %}
        """,
        // Mistral-style with macros, generation blocks, split/upper, length and string slicing of content.
        """
        {%- macro render(role, text) -%}[{{ role | upper }}] {{ text.split('\n') | join(' ') }}{%- endmacro -%}
        {%- if messages | length == 0 %}{{ raise_exception('no messages') }}{% endif %}
        {{- bos_token -}}
        {%- for message in messages -%}
            {%- if message['role'] == 'user' -%}
                {{- '[INST] ' + message['content'][:4000] + ' [/INST]' -}}
            {%- elif message['role'] == 'assistant' -%}
                {% generation %}{{- ' ' + message['content'] + eos_token -}}{% endgeneration %}
            {%- else -%}
                {{- render(message['role'], message['content']) -}}
            {%- endif -%}
        {%- endfor -%}
        {%- set last = messages | last %}{%- if last.role == 'user' and add_generation_prompt %}{{ '' }}{%- endif %}
        {# comments may mention __class__ or os.system without effect #}
        {% raw %}{{ this is literal text, not an expression: __globals__ }}{% endraw %}
        """,
    };

    [Theory]
    [MemberData(nameof(BenignTemplates))]
    public void Benign_templates_in_common_styles_are_clean(string template)
    {
        var findings = Analyze(template);
        Assert.True(findings.Count == 0, string.Join("; ", findings.Select(f => $"{f.Rule} {f.Message}")));
    }

    /// <summary>Escapes and obfuscations written for this project; each must be at least high, most critical.</summary>
    public static TheoryData<string, string, Severity> Obfuscations => new()
    {
        { "{{ ''['__cla' ~ 'ss__'] }}", "LIN-JINJA-005", Severity.Critical },
        { "{{ ''|attr('__cla' + 'ss__') }}", "LIN-JINJA-005", Severity.Critical },
        { "{{ ''|attr('%c%cclass%c%c'|format(95,95,95,95)) }}", "LIN-JINJA-005", Severity.Critical },
        { "{{ ''|attr('%s%s' % ('__glo', 'bals__')) }}", "LIN-JINJA-005", Severity.Critical },
        { "{{ ''|attr(['_','_','class','_','_']|join) }}", "LIN-JINJA-005", Severity.Critical },
        { "{{ ''|attr('__ssalc__'|reverse) }}", "LIN-JINJA-005", Severity.Critical },
        { "{{ ''|attr('__ssalc__'[::-1]) }}", "LIN-JINJA-005", Severity.Critical },
        { "{{ ''|attr('XXclassXX'|replace('X','_')) }}", "LIN-JINJA-005", Severity.Critical },
        { "{{ ''|attr('{0}{0}class{0}{0}'.format('_')) }}", "LIN-JINJA-005", Severity.Critical },
        { "{{ ''|attr('{:c}{:c}init{:c}{:c}'.format(95,95,95,95)) }}", "LIN-JINJA-005", Severity.Critical },
        { "{{ ''|attr(dict(__class__=1)|list|first) }}", "LIN-JINJA-001", Severity.Critical },
        { "{% set a = '__cl' %}{% set b = a ~ 'ass__' %}{{ ''|attr(b) }}", "LIN-JINJA-005", Severity.Critical },
        { "{% set ns = namespace(s='') %}{% for p in ['__cl', 'ass__'] %}{% set ns.s = ns.s ~ p %}{% endfor %}{{ ''|attr(ns.s) }}", "LIN-JINJA-005", Severity.Critical },
        { "{{ ''|attr('\\x5f\\x5fclass\\x5f\\x5f') }}", "LIN-JINJA-001", Severity.Critical },
        { "{{ ''|attr('\\u005f\\u005fclass\\u005f\\u005f') }}", "LIN-JINJA-001", Severity.Critical },
        { "{{ ''|attr('\\137\\137class\\137\\137') }}", "LIN-JINJA-001", Severity.Critical },
        { "{{ ''|attr('\\N{LOW LINE}\\N{LOW LINE}class\\N{LOW LINE}\\N{LOW LINE}') }}", "LIN-JINJA-001", Severity.Critical },
        { "{{ ''.__class__ }}", "LIN-JINJA-001", Severity.Critical },
        { "{{ lipsum.__globals__.os.popen('id').read() }}", "LIN-JINJA-001", Severity.Critical },
        { "{{ ''|attr(x) }}", "LIN-JINJA-006", Severity.High },
        { "{{ messages|map('attr', '__class__')|list }}", "LIN-JINJA-001", Severity.Critical },
        { "{{ messages|map(attribute='__class__')|list }}", "LIN-JINJA-001", Severity.Critical },
        { "{{ messages|selectattr('__class__')|list }}", "LIN-JINJA-001", Severity.Critical },
        { "{{ x.__getitem__('a') }}", "LIN-JINJA-001", Severity.Critical },
        { "{{ catch._module }}", "LIN-JINJA-002", Severity.High },
        { "{{ x.f_globals }}", "LIN-JINJA-003", Severity.High },
        { "{{ x.gi_frame.f_back }}", "LIN-JINJA-003", Severity.High },
        { "{{ cycler.next() }}", "LIN-JINJA-004", Severity.Medium },
        { "{% include 'other.j2' %}", "LIN-JINJA-011", Severity.Medium },
        { "{% from 'macros' import m %}{{ m() }}", "LIN-JINJA-011", Severity.Medium },
        { "{{ ''|attr('{0.__class__}'.format(x)) }}", "LIN-JINJA-008", Severity.High },
        { "{{ x.\u0455ystem('id') }}", "LIN-JINJA-005", Severity.Critical },
        { "{{ {'a': ''.__class__}['a'] }}", "LIN-JINJA-001", Severity.Critical },
        { "{{ x[('__cla' ~ 'ss__')] if true else 1 }}", "LIN-JINJA-005", Severity.Critical },
        { "{% set s = '__class__' %}", "LIN-JINJA-001", Severity.Critical },
        { "{{ (x|attr('__class__')) }}{{ unclosed", "LIN-JINJA-001", Severity.Critical },
        { "{% for x in y %}{{ x.__class__ }}", "LIN-JINJA-001", Severity.Critical },
        { "{{ 'Y2F0IC9ldGMvcGFzc3dk'|b64decode }}{{ '__import__(\"os\")' }}", "LIN-JINJA-008", Severity.High },
        { "{% do x.__init__ %}", "LIN-JINJA-001", Severity.Critical },
    };

    [Theory]
    [MemberData(nameof(Obfuscations))]
    public void Synthetic_obfuscations_are_caught(string template, string rule, Severity atLeast)
    {
        var findings = Analyze(template);
        Assert.True(findings.Any(f => f.Rule == rule), $"{rule} missing in: {string.Join("; ", findings.Select(f => $"{f.Rule} {f.Message}"))}");
        Assert.True(Worst(findings) >= atLeast, $"worst {Worst(findings)}");
    }

    [Fact]
    public void Names_are_not_flagged_when_the_template_binds_them()
    {
        Assert.Empty(Analyze("{% for g in groups %}{{ g.name }}{% endfor %}"));
        Assert.Empty(Analyze("{% set config = messages[0] %}{{ config.role }}"));
        Assert.Empty(Analyze("{% macro self_intro(self) %}{{ self }}{% endmacro %}"));
        Assert.Empty(Analyze("{{ message['role'] == 'system' }}{{ message.class }}{{ message['__'] }}"));
        Assert.Empty(Analyze("{% set comma = joiner(', ') %}{% for m in messages %}{{ comma() }}{{ m.content }}{% endfor %}"));
        Assert.Empty(Analyze("{% set rows = cycler('odd', 'even') %}{% for m in messages %}{{ rows.next() if false else m.role }}{% endfor %}"));
    }

    [Fact]
    public void Offsets_of_standalone_templates_point_at_the_offending_bytes()
    {
        using var dir = new TempDir();
        string text = "{# ünïcödé #}\n{{ cycler.__init__ }}";
        string path = dir.Write("t.jinja", text);
        var report = ScanFile(path);
        var dunder = report.Findings.Single(f => f.Rule == "LIN-JINJA-001");
        byte[] bytes = File.ReadAllBytes(path);
        Assert.Equal("__init__", Encoding.UTF8.GetString(bytes, (int)dunder.Offset!.Value, 8));
    }

    [Fact]
    public void Hostile_templates_terminate_and_stay_bounded()
    {
        string deep = new string('(', 5000) + "x" + new string(')', 5000);
        var findings = Analyze("{{ " + deep + " }}");
        Assert.Contains(findings, f => f.Rule == "LIN-JINJA-009");

        string many = string.Concat(Enumerable.Repeat("{{ x.__class__ }}{{ y._p }}{{ cycler }}", 2000));
        var capped = Analyze(many);
        Assert.True(capped.Count <= 101);

        string big = new('a', 2_000_000);
        var limited = ChatTemplateAnalyzer.Analyze(big, TemplateOrigin.At("t", 0), maxChars: 1_000_000);
        Assert.Contains(limited, f => f.Rule == ScanRules.LimitExceeded.Id);

        var rng = new Random(7);
        string alphabet = "{}%#()[]'\"\\|.~+_-abcx0123 \n";
        for (int i = 0; i < 300; i++)
        {
            var sb = new StringBuilder();
            int n = rng.Next(1, 200);
            for (int k = 0; k < n; k++) sb.Append(alphabet[rng.Next(alphabet.Length)]);
            _ = Analyze(sb.ToString());
        }
    }

    /// <summary>Reads tokenizer.chat_template from a GGUF's metadata (test helper; the GGUF reader lives elsewhere).</summary>
    private static string GgufChatTemplate(string path)
    {
        byte[] b = File.ReadAllBytes(path);
        byte[] key = "tokenizer.chat_template"u8.ToArray();
        int at = b.AsSpan().IndexOf(key);
        Assert.True(at >= 8, "no chat template key");
        Assert.Equal((ulong)key.Length, BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(at - 8)));
        int p = at + key.Length;
        Assert.Equal(8u, BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(p)));
        int n = (int)BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(p + 4));
        return Encoding.UTF8.GetString(b, p + 12, n);
    }
}
