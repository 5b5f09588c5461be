namespace Lineage.Numerics;

/// <summary>
/// Minimum-cost assignment (Kuhn–Munkres with potentials, O(n²·m)) for a rectangular cost matrix with
/// rows ≤ columns. Used to match neurons and heads one-to-one, so that one "hub" row of a model cannot
/// count as the match of many rows of the other.
/// </summary>
public static class Hungarian
{
    /// <summary>Returns, for each row, the assigned column.</summary>
    public static int[] Solve(double[] cost, int rows, int cols)
    {
        ArgumentNullException.ThrowIfNull(cost);
        if (rows > cols) throw new ArgumentException("rows must not exceed columns");
        if (cost.Length != rows * cols) throw new ArgumentException("cost size mismatch");
        var u = new double[rows + 1];
        var v = new double[cols + 1];
        var p = new int[cols + 1];
        var way = new int[cols + 1];
        var minv = new double[cols + 1];
        var used = new bool[cols + 1];
        for (int i = 1; i <= rows; i++)
        {
            p[0] = i;
            int j0 = 0;
            Array.Fill(minv, double.PositiveInfinity);
            Array.Fill(used, false);
            do
            {
                used[j0] = true;
                int i0 = p[j0], j1 = 0;
                double delta = double.PositiveInfinity;
                for (int j = 1; j <= cols; j++)
                {
                    if (used[j]) continue;
                    double cur = cost[(i0 - 1) * cols + (j - 1)] - u[i0] - v[j];
                    if (cur < minv[j])
                    {
                        minv[j] = cur;
                        way[j] = j0;
                    }
                    if (minv[j] < delta)
                    {
                        delta = minv[j];
                        j1 = j;
                    }
                }
                for (int j = 0; j <= cols; j++)
                {
                    if (used[j])
                    {
                        u[p[j]] += delta;
                        v[j] -= delta;
                    }
                    else
                    {
                        minv[j] -= delta;
                    }
                }
                j0 = j1;
            }
            while (p[j0] != 0);
            do
            {
                int j1 = way[j0];
                p[j0] = p[j1];
                j0 = j1;
            }
            while (j0 != 0);
        }
        var assignment = new int[rows];
        for (int j = 1; j <= cols; j++)
            if (p[j] != 0) assignment[p[j] - 1] = j - 1;
        return assignment;
    }
}
