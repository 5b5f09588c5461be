namespace Lineage.Models.Canonical;

/// <summary>What a weight does in a transformer, whatever the exporter called it.</summary>
public enum TensorRole
{
    Unknown,
    TokenEmbedding,
    PositionEmbedding,
    LmHead,
    FinalNorm,
    AttentionNorm,
    MlpNorm,
    Query,
    Key,
    Value,
    Output,
    FusedQkv,
    Gate,
    Up,
    Down,
    FusedGateUp,
    Router,
}

public static class TensorRoles
{
    /// <summary>Roles whose rows are read from the residual stream (their input side is the residual basis).</summary>
    public static bool ReadsResidual(this TensorRole role) =>
        role is TensorRole.Query or TensorRole.Key or TensorRole.Value or TensorRole.Gate or TensorRole.Up or TensorRole.Router;

    /// <summary>Roles that write into the residual stream (their output side is the residual basis).</summary>
    public static bool WritesResidual(this TensorRole role) => role is TensorRole.Output or TensorRole.Down;

    public static bool IsAttention(this TensorRole role) => role is TensorRole.Query or TensorRole.Key or TensorRole.Value or TensorRole.Output;

    public static string ShortName(this TensorRole role) => role switch
    {
        TensorRole.Query => "q",
        TensorRole.Key => "k",
        TensorRole.Value => "v",
        TensorRole.Output => "o",
        TensorRole.Gate => "gate",
        TensorRole.Up => "up",
        TensorRole.Down => "down",
        TensorRole.Router => "router",
        TensorRole.TokenEmbedding => "embed",
        TensorRole.LmHead => "lm_head",
        _ => role.ToString().ToLowerInvariant(),
    };
}
