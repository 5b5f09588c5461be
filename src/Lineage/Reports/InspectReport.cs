using System.Globalization;
using Lineage.Inspection;

namespace Lineage.Reports;

/// <summary>Text rendering of <see cref="ModelSummary"/>.</summary>
public static class InspectReport
{
    public static void WriteText(TextWriter w, ModelSummary s, bool listTensors)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(s);
        var inv = CultureInfo.InvariantCulture;
        w.WriteLine($"model:      {s.Path}");
        w.WriteLine($"format:     {s.Format}");
        w.WriteLine(string.Create(inv, $"parameters: {s.Parameters:N0} in {s.TensorCount} tensors"));
        if (s.Dtypes.Count > 0)
            w.WriteLine("dtypes:     " + string.Join(", ", s.Dtypes.Select(kv => string.Create(inv, $"{kv.Key} ({kv.Value:N0})"))));
        if (s.Config is { } c)
        {
            var parts = new List<string>();
            void Add(string name, object? value)
            {
                if (value is not null) parts.Add($"{name}={Convert.ToString(value, inv)}");
            }
            Add("type", c.ModelType);
            Add("arch", c.Architecture);
            Add("hidden", c.HiddenSize);
            Add("layers", c.NumLayers);
            Add("heads", c.NumHeads);
            Add("kv_heads", c.NumKeyValueHeads);
            Add("ffn", c.IntermediateSize);
            Add("vocab", c.VocabSize);
            Add("experts", c.NumExperts);
            w.WriteLine($"config:     {string.Join(" ", parts)} (from {c.Source})");
        }
        if (s.Tokenizer is { } t)
            w.WriteLine($"tokenizer:  {t.Kind}, {t.VocabSize} tokens{(t.Family is null ? "" : $", {t.Family}")}{(t.Merges > 0 ? $", {t.Merges} merges" : "")}{(t.HasChatTemplate ? ", chat template" : "")} (from {t.Source})");
        w.WriteLine("files:");
        foreach (var f in s.Files)
            w.WriteLine(string.Create(inv, $"  {f.Role,-9} {f.Size,14:N0}  {f.Sha256 ?? "",-64}  {f.Path}"));
        foreach (var d in s.Diagnostics)
            w.WriteLine($"note: {d.Code}: {d.Message}");
        if (listTensors || s.TensorCount <= 12)
        {
            w.WriteLine("tensors:");
            foreach (var tensor in s.Tensors)
                w.WriteLine($"  {tensor.Name,-48} {tensor.Dtype,-6} [{string.Join(", ", tensor.Shape)}]");
        }
        else
        {
            w.WriteLine($"tensors:    {s.TensorCount} (use --tensors to list)");
        }
    }
}
