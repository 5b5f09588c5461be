using Lineage.Security;

namespace Lineage.Audit;

/// <summary>
/// Rules of <c>lineage audit</c> (docs/audit-rules.md documents each one). Scheme <c>LIN-AUD-NNN</c>: 00x file
/// integrity against a published manifest, 01x lineage (claimed, detected and expected base), 02x format risks,
/// 03x the audit itself. Ids are stable: never renamed or reused. Scanner findings keep their own ids.
/// </summary>
public static class AuditRules
{
    // --- integrity against a published manifest -----------------------------------------------------------------
    public static readonly RuleDescriptor HashMismatch = new("LIN-AUD-001", "hash-mismatch", Severity.Critical,
        "A file differs from the published manifest",
        "The file's SHA-256 (or size, or git blob id) is not the one the manifest publishes: the bytes are not the ones the publisher released. Treat the file as tampered or corrupted until explained.");

    public static readonly RuleDescriptor MissingFile = new("LIN-AUD-002", "missing-file", Severity.High,
        "A file of the published manifest is missing",
        "The manifest lists a file that the audited folder does not hold: the download is incomplete, or a file was removed.");

    public static readonly RuleDescriptor UnexpectedFile = new("LIN-AUD-003", "unexpected-file", Severity.Medium,
        "A file is not in the published manifest",
        "The folder holds a file the publisher did not release. Loaders pick files up by name (pytorch_model.bin beside model.safetensors, Python modules for trust_remote_code), so an added file can change what runs.");

    public static readonly RuleDescriptor LfsPointer = new("LIN-AUD-004", "lfs-pointer-not-content", Severity.High,
        "A file is a Git LFS pointer, not its content",
        "The file holds the few lines of a Git LFS pointer (version, oid sha256, size) instead of the weights: the repository was cloned without 'git lfs pull'. Nothing about the real file was checked.");

    // --- lineage ---------------------------------------------------------------------------------------------------
    public static readonly RuleDescriptor ExpectedBaseDiffers = new("LIN-AUD-010", "expected-base-differs", Severity.High,
        "The weights do not descend from the expected base",
        "--expect-base named a base model, and the weight comparison says the audited model is unrelated to it (or is derived from another model instead).");

    public static readonly RuleDescriptor ExpectedBaseUnverified = new("LIN-AUD-011", "expected-base-unverified", Severity.High,
        "The expected base could not be confirmed",
        "--expect-base named a base that is neither a readable model path nor an entry of the fingerprint database, or the comparison was inconclusive. An expectation that cannot be checked fails the audit (fail closed).");

    public static readonly RuleDescriptor ClaimContradicted = new("LIN-AUD-012", "claimed-base-contradicted", Severity.High,
        "The claimed base is contradicted by the weights",
        "A model card, config or adapter config names a base model that is in the fingerprint database, and the weight comparison says the model is not derived from it.");

    public static readonly RuleDescriptor ClaimDiffers = new("LIN-AUD-013", "claimed-base-differs", Severity.Medium,
        "The weights descend from another base than the one claimed",
        "The detected base (a related entry of the fingerprint database) is not the base the model's files claim.");

    public static readonly RuleDescriptor ClaimUnverified = new("LIN-AUD-014", "claimed-base-unverified", Severity.Info,
        "The claimed base is not in the fingerprint database",
        "The claim could not be checked against weights. Add the base with 'lineage db add' to verify it.");

    public static readonly RuleDescriptor ClaimsDisagree = new("LIN-AUD-015", "claims-disagree", Severity.Low,
        "The model's files claim different bases",
        "config.json, README.md and adapter_config.json name different base models.");

    // --- format risks ------------------------------------------------------------------------------------------------
    public static readonly RuleDescriptor PickleBesideSafetensors = new("LIN-AUD-020", "pickle-beside-safetensors", Severity.Medium,
        "Pickle-based weights ship beside safetensors weights",
        "A PyTorch pickle (.bin/.pt/.pth/.ckpt) sits next to safetensors weights. Loaders that fall back to it, or users passing use_safetensors=False, unpickle it; the safetensors copy makes it unnecessary. Remove it, or check it holds the same tensors.");

    public static readonly RuleDescriptor PickleOnly = new("LIN-AUD-021", "pickle-only-weights", Severity.Low,
        "Weights are only available in a pickle-based format",
        "Loading a pickle can execute code; the scanner's allow-list found nothing, but a safetensors copy removes the risk for every consumer: 'lineage convert … --to safetensors'.");

    public static readonly RuleDescriptor UnpinnedRevision = new("LIN-AUD-022", "unpinned-revision", Severity.Low,
        "A remote reference is not pinned to a commit",
        "A config names code or a base model in another repository by branch or tag (or by nothing): what is fetched can change after this audit. Pin a 40-hex commit sha (revision / code_revision).");

    // --- the audit itself ----------------------------------------------------------------------------------------------
    public static readonly RuleDescriptor ModelUnreadable = new("LIN-AUD-030", "model-unreadable", Severity.High,
        "The model could not be loaded",
        "The weights could not be parsed, so parameters, lineage and the BOM's model card are unknown. The audit fails closed (exit 2) unless findings decide first.",
        Integrity: true);

    public static readonly RuleDescriptor ManifestUnreadable = new("LIN-AUD-031", "manifest-unreadable", Severity.High,
        "The published manifest could not be read",
        "The --manifest file is not a sha256sum list, a Lineage manifest, a Hugging Face file listing or Git LFS pointers, or holds malformed lines. Nothing was verified (exit 2).",
        Integrity: true);

    /// <summary>Every audit rule, in id order.</summary>
    public static IReadOnlyList<RuleDescriptor> All { get; } =
    [
        HashMismatch, MissingFile, UnexpectedFile, LfsPointer,
        ExpectedBaseDiffers, ExpectedBaseUnverified, ClaimContradicted, ClaimDiffers, ClaimUnverified, ClaimsDisagree,
        PickleBesideSafetensors, PickleOnly, UnpinnedRevision,
        ModelUnreadable, ManifestUnreadable,
    ];
}
