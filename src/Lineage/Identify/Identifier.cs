using System.Diagnostics;
using Lineage.Catalog;
using Lineage.Provenance;
using Lineage.Store;

namespace Lineage.Identify;

public sealed record IdentifyOptions
{
    /// <summary>Matches reported (related entries, best first).</summary>
    public int TopK { get; init; } = 5;

    /// <summary>
    /// Most candidates pruning may return: band neighbours of the query's weight sketch (most shared bands first),
    /// or, for a query without a sketch, key matches (best key affinity first).
    /// </summary>
    public int CandidateLimit { get; init; } = 256;

    /// <summary>Most entries without a weight sketch pruning returns besides the band neighbours.</summary>
    public int UnsketchedCandidateLimit { get; init; } = 16;

    /// <summary>
    /// Candidates whose weight sketch correlates below this are not compared in full. Related ladder pairs
    /// sketch at 0.85 or more; independent ones at 0.05 (median) and at most 0.77 when trained on the same data
    /// and tokenizer, so the gate is permissive: compare decides, the sketch only spares hopeless comparisons.
    /// </summary>
    public double SketchGate { get; init; } = 0.5;

    /// <summary>Full comparisons at most among candidates that pass the sketch gate (each costs ~0.1–0.5 s).</summary>
    public int MaxComparisons { get; init; } = 8;

    /// <summary>Full comparisons at most among candidates without a usable sketch (no embedding in either fingerprint).</summary>
    public int MaxUnsketchedComparisons { get; init; } = 4;

    /// <summary>Near misses listed as "closest, not related".</summary>
    public int ClosestCount { get; init; } = 3;

    public CompareOptions? Compare { get; init; }
}

/// <summary>A stored model the query shares a weight lineage with (compare said related).</summary>
public sealed record IdentifyMatch
{
    public required string ModelId { get; init; }

    public string? Family { get; init; }

    public double Score { get; init; }

    public bool? Related { get; init; }

    public required string Verdict { get; init; }

    public double Log10PValue { get; init; }

    public IReadOnlyList<Signal> Signals { get; init; } = [];

    public IReadOnlyList<string> Evidence { get; init; } = [];

    public IReadOnlyList<string> Transformations { get; init; } = [];

    public LayerCorrespondence? LayerMap { get; init; }

    public ComparisonContext? Context { get; init; }

    /// <summary>Correlation of the weight sketches (ranking only); null when either had none.</summary>
    public double? SketchCorrelation { get; init; }

    /// <summary>False when the entry was ranked out by its sketch and not compared in full.</summary>
    public bool Compared { get; init; } = true;
}

public sealed record IdentifyStatistics(int Entries, int Candidates, int Sketched, int Compared, double PruneMs, double RankMs, double CompareMs, double TotalMs);

public sealed record IdentifyResult
{
    public required string Source { get; init; }

    public required ModelFacts Facts { get; init; }

    /// <summary>Related entries only, strongest first (at most TopK). Empty when nothing shares a weight lineage.</summary>
    public required IReadOnlyList<IdentifyMatch> Matches { get; init; }

    /// <summary>The nearest entries that are NOT related (or were ranked out), for context.</summary>
    public required IReadOnlyList<IdentifyMatch> Closest { get; init; }

    /// <summary>Metadata-level evidence from the reference catalog (never a lineage verdict).</summary>
    public CatalogEvidence? Catalog { get; init; }

    public required IdentifyStatistics Statistics { get; init; }
}

/// <summary>
/// Which stored models is a model derived from? Three stages: (1) the store prunes to the band neighbours of
/// the query's weight sketch (<see cref="SketchBands"/>) that also agree on tokenizer or architecture keys, plus
/// a few entries without a sketch (indexed; the cost follows the neighbours, not the store's size); (2) weight
/// sketches rank the candidates and gate out the ones that cannot be related (milliseconds); (3) <see cref="ProvenanceComparer.Compare"/> decides
/// on the few left. Only entries compare calls related are matches: an unrelated model gets none, however
/// close its nearest entry. The reference catalog adds family and tokenizer facts, marked as metadata.
/// </summary>
public static class Identifier
{
    public static IdentifyResult Identify(Fingerprint query, IFingerprintStore? store, ReferenceCatalog? catalog = null, IdentifyOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(query);
        options ??= new IdentifyOptions();
        var total = Stopwatch.StartNew();
        var stopwatch = Stopwatch.StartNew();
        var sketch = WeightSketch.From(query);
        var candidateQuery = new CandidateQuery
        {
            Keys = IndexKeys.From(query), Bands = SketchBands.Of(sketch), Limit = options.CandidateLimit, UnsketchedLimit = options.UnsketchedCandidateLimit,
        };
        IReadOnlyList<CandidateEntry> candidates = store?.FindCandidates(candidateQuery) ?? [];
        double pruneMs = stopwatch.Elapsed.TotalMilliseconds;

        stopwatch.Restart();
        var ranked = candidates.Select(c => (Candidate: c, R: WeightSketch.Correlation(sketch, c.Sketch))).ToList();
        int sketched = ranked.Count(r => r.R is not null);
        var gated = ranked.Where(r => r.R >= options.SketchGate).OrderByDescending(r => r.R).ThenByDescending(r => r.Candidate.Affinity)
            .Take(options.MaxComparisons);
        var unsketched = ranked.Where(r => r.R is null).OrderByDescending(r => r.Candidate.Affinity).Take(options.MaxUnsketchedComparisons);
        var toCompare = gated.Concat(unsketched).ToList();
        double rankMs = stopwatch.Elapsed.TotalMilliseconds;

        stopwatch.Restart();
        var compared = new List<IdentifyMatch>();
        foreach (var (candidate, r) in toCompare)
        {
            var stored = store!.LoadFingerprint(candidate.Entry);
            var result = ProvenanceComparer.Compare(query, stored, options.Compare);
            compared.Add(new IdentifyMatch
            {
                ModelId = candidate.Entry.ModelId,
                Family = candidate.Entry.Family,
                Score = result.Score,
                Related = result.Related,
                Verdict = result.Verdict,
                Log10PValue = result.Log10PValue,
                Signals = result.Signals,
                Evidence = result.Evidence,
                Transformations = result.Transformations,
                LayerMap = result.LayerMap,
                Context = result.Context,
                SketchCorrelation = r,
            });
        }
        double compareMs = stopwatch.Elapsed.TotalMilliseconds;

        var matches = compared.Where(m => m.Related == true)
            .OrderByDescending(m => m.Verdict == "identical").ThenByDescending(m => m.Score).ThenBy(m => m.Log10PValue)
            .ThenByDescending(m => m.SketchCorrelation ?? -1).Take(options.TopK).ToList();
        var comparedIds = compared.Select(m => m.ModelId).ToHashSet(StringComparer.Ordinal);
        var closest = compared.Where(m => m.Related != true).OrderByDescending(m => m.Score).ThenByDescending(m => m.SketchCorrelation ?? -1)
            .Concat(ranked.Where(r => !comparedIds.Contains(r.Candidate.Entry.ModelId) && r.R is not null).OrderByDescending(r => r.R).Select(r => new IdentifyMatch
            {
                ModelId = r.Candidate.Entry.ModelId,
                Family = r.Candidate.Entry.Family,
                Related = false,
                Verdict = "not-compared",
                SketchCorrelation = r.R,
                Compared = false,
                Evidence = [$"weight sketch correlation {r.R:F2} is below the comparison gate {options.SketchGate:F2}: the embedding geometry does not resemble this entry's"],
            }))
            .Take(options.ClosestCount).ToList();

        return new IdentifyResult
        {
            Source = query.Source,
            Facts = query.Facts,
            Matches = matches,
            Closest = closest,
            Catalog = catalog?.Explain(query),
            Statistics = new IdentifyStatistics(store?.ApproximateCount ?? 0, candidates.Count, sketched, compared.Count, pruneMs, rankMs, compareMs, total.Elapsed.TotalMilliseconds),
        };
    }
}
