namespace Lineage.Numerics;

/// <summary>
/// Eigen-decomposition of a real symmetric matrix: Householder reduction to tridiagonal form followed by
/// the implicit QL algorithm (the classic EISPACK tred2/tql2 pair), O(n³) in doubles. Used for whitening
/// and orthogonal Procrustes at the sizes signals need (n up to a few thousand).
/// </summary>
public static class SymmetricEigen
{
    /// <summary>
    /// Decomposes <paramref name="a"/> (n×n, row-major, symmetric). Returns eigenvalues ascending and the
    /// eigenvectors as columns of a row-major n×n matrix.
    /// </summary>
    public static (double[] Values, double[] Vectors) Decompose(double[] a, int n)
    {
        ArgumentNullException.ThrowIfNull(a);
        if (a.Length != n * n) throw new ArgumentException("matrix size mismatch", nameof(a));
        var v = (double[])a.Clone();
        var d = new double[n];
        var e = new double[n];
        // The algorithm runs on the transposed eigenvector matrix so that its inner loops walk rows
        // (contiguous memory) instead of columns; the input is symmetric, so it starts from the same array.
        Tridiagonalize(v, d, e, n);
        Diagonalize(v, d, e, n);
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++) (v[i * n + j], v[j * n + i]) = (v[j * n + i], v[i * n + j]);
        return (d, v);
    }

    private static void Tridiagonalize(double[] v, double[] d, double[] e, int n)
    {
        for (int j = 0; j < n; j++) d[j] = v[j * n + (n - 1)];
        for (int i = n - 1; i > 0; i--)
        {
            double scale = 0, h = 0;
            for (int k = 0; k < i; k++) scale += Math.Abs(d[k]);
            if (scale == 0)
            {
                e[i] = d[i - 1];
                for (int j = 0; j < i; j++)
                {
                    d[j] = v[j * n + (i - 1)];
                    v[j * n + i] = 0;
                    v[i * n + j] = 0;
                }
            }
            else
            {
                for (int k = 0; k < i; k++)
                {
                    d[k] /= scale;
                    h += d[k] * d[k];
                }
                double f = d[i - 1];
                double g = Math.Sqrt(h);
                if (f > 0) g = -g;
                e[i] = scale * g;
                h -= f * g;
                d[i - 1] = f - g;
                for (int j = 0; j < i; j++) e[j] = 0;
                for (int j = 0; j < i; j++)
                {
                    f = d[j];
                    v[i * n + j] = f;
                    g = e[j] + v[j * n + j] * f;
                    for (int k = j + 1; k <= i - 1; k++)
                    {
                        g += v[j * n + k] * d[k];
                        e[k] += v[j * n + k] * f;
                    }
                    e[j] = g;
                }
                f = 0;
                for (int j = 0; j < i; j++)
                {
                    e[j] /= h;
                    f += e[j] * d[j];
                }
                double hh = f / (h + h);
                for (int j = 0; j < i; j++) e[j] -= hh * d[j];
                for (int j = 0; j < i; j++)
                {
                    f = d[j];
                    g = e[j];
                    for (int k = j; k <= i - 1; k++) v[j * n + k] -= f * e[k] + g * d[k];
                    d[j] = v[j * n + (i - 1)];
                    v[j * n + i] = 0;
                }
            }
            d[i] = h;
        }
        for (int i = 0; i < n - 1; i++)
        {
            v[i * n + (n - 1)] = v[i * n + i];
            v[i * n + i] = 1;
            double h = d[i + 1];
            if (h != 0)
            {
                for (int k = 0; k <= i; k++) d[k] = v[(i + 1) * n + k] / h;
                for (int j = 0; j <= i; j++)
                {
                    double g = 0;
                    for (int k = 0; k <= i; k++) g += v[(i + 1) * n + k] * v[j * n + k];
                    for (int k = 0; k <= i; k++) v[j * n + k] -= g * d[k];
                }
            }
            for (int k = 0; k <= i; k++) v[(i + 1) * n + k] = 0;
        }
        for (int j = 0; j < n; j++)
        {
            d[j] = v[j * n + (n - 1)];
            v[j * n + (n - 1)] = 0;
        }
        v[(n - 1) * n + (n - 1)] = 1;
        e[0] = 0;
    }

    private static void Diagonalize(double[] v, double[] d, double[] e, int n)
    {
        for (int i = 1; i < n; i++) e[i - 1] = e[i];
        e[n - 1] = 0;
        double f = 0, tst1 = 0;
        double eps = Math.Pow(2.0, -52.0);
        for (int l = 0; l < n; l++)
        {
            tst1 = Math.Max(tst1, Math.Abs(d[l]) + Math.Abs(e[l]));
            int m = l;
            while (m < n)
            {
                if (Math.Abs(e[m]) <= eps * tst1) break;
                m++;
            }
            if (m > l)
            {
                int iterations = 0;
                do
                {
                    if (++iterations > 60) throw new InvalidOperationException("eigen-decomposition did not converge");
                    double g = d[l];
                    double p = (d[l + 1] - g) / (2 * e[l]);
                    double r = Hypot(p, 1);
                    if (p < 0) r = -r;
                    d[l] = e[l] / (p + r);
                    d[l + 1] = e[l] * (p + r);
                    double dl1 = d[l + 1];
                    double h = g - d[l];
                    for (int i = l + 2; i < n; i++) d[i] -= h;
                    f += h;
                    p = d[m];
                    double c = 1, c2 = c, c3 = c;
                    double el1 = e[l + 1];
                    double s = 0, s2 = 0;
                    for (int i = m - 1; i >= l; i--)
                    {
                        c3 = c2;
                        c2 = c;
                        s2 = s;
                        g = c * e[i];
                        h = c * p;
                        r = Hypot(p, e[i]);
                        e[i + 1] = s * r;
                        s = e[i] / r;
                        c = p / r;
                        p = c * d[i] - s * g;
                        d[i + 1] = h + s * (c * g + s * d[i]);
                        for (int k = 0; k < n; k++)
                        {
                            h = v[(i + 1) * n + k];
                            v[(i + 1) * n + k] = s * v[i * n + k] + c * h;
                            v[i * n + k] = c * v[i * n + k] - s * h;
                        }
                    }
                    p = -s * s2 * c3 * el1 * e[l] / dl1;
                    e[l] = s * p;
                    d[l] = c * p;
                }
                while (Math.Abs(e[l]) > eps * tst1);
            }
            d[l] += f;
            e[l] = 0;
        }
        // Sort ascending with vectors.
        for (int i = 0; i < n - 1; i++)
        {
            int k = i;
            double p = d[i];
            for (int j = i + 1; j < n; j++)
                if (d[j] < p) { k = j; p = d[j]; }
            if (k != i)
            {
                d[k] = d[i];
                d[i] = p;
                for (int j = 0; j < n; j++) (v[i * n + j], v[k * n + j]) = (v[k * n + j], v[i * n + j]);
            }
        }
    }

    private static double Hypot(double a, double b) => Math.Sqrt(a * a + b * b);
}
