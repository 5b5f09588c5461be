namespace Lineage.Numerics;

/// <summary>Distribution functions used to turn signal values into p-values (double precision, log-space tails).</summary>
public static class Statistics
{
    /// <summary>Standard normal upper tail P(Z ≥ z), accurate far into the tail.</summary>
    public static double NormalUpperTail(double z) => 0.5 * Erfc(z / Math.Sqrt(2));

    /// <summary>Standard normal CDF.</summary>
    public static double NormalCdf(double z) => 1 - NormalUpperTail(z);

    /// <summary>Inverse of the standard normal CDF (Acklam's rational approximation with one Newton step).</summary>
    public static double NormalQuantile(double p)
    {
        if (p <= 0) return double.NegativeInfinity;
        if (p >= 1) return double.PositiveInfinity;
        double[] a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00];
        double[] b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01];
        double[] c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00];
        double[] d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00];
        double q, x;
        if (p < 0.02425)
        {
            q = Math.Sqrt(-2 * Math.Log(p));
            x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        }
        else if (p > 1 - 0.02425)
        {
            q = Math.Sqrt(-2 * Math.Log(1 - p));
            x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        }
        else
        {
            q = p - 0.5;
            double r = q * q;
            x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
        }
        double e = NormalCdf(x) - p;
        double u = e * Math.Sqrt(2 * Math.PI) * Math.Exp(x * x / 2);
        return x - u / (1 + x * u / 2);
    }

    /// <summary>Complementary error function (Numerical Recipes' Chebyshev fit, relative error &lt; 1.2e-7).</summary>
    public static double Erfc(double x)
    {
        double z = Math.Abs(x);
        double t = 1 / (1 + 0.5 * z);
        double r = t * Math.Exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
            + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
        return x >= 0 ? r : 2 - r;
    }

    /// <summary>log10 of the binomial upper tail P(X ≥ k), X ~ Bin(n, p), summed in log space.</summary>
    public static double Log10BinomialUpperTail(int k, int n, double p)
    {
        if (k <= 0) return 0;
        if (k > n) return double.NegativeInfinity;
        p = Math.Clamp(p, 1e-300, 1 - 1e-16);
        double logP = Math.Log(p), log1P = Math.Log(1 - p);
        double max = double.NegativeInfinity;
        var terms = new double[n - k + 1];
        for (int i = k; i <= n; i++)
        {
            double t = LogChoose(n, i) + i * logP + (n - i) * log1P;
            terms[i - k] = t;
            max = Math.Max(max, t);
        }
        double sum = 0;
        foreach (var t in terms) sum += Math.Exp(t - max);
        return (max + Math.Log(sum)) / Math.Log(10);
    }

    private static double LogChoose(int n, int k) => LogGamma(n + 1) - LogGamma(k + 1) - LogGamma(n - k + 1);

    /// <summary>Lanczos approximation of ln Γ(x) for x &gt; 0.</summary>
    public static double LogGamma(double x)
    {
        double[] g = [76.18009172947146, -86.50532032941677, 24.01409824083091, -1.231739572450155, 0.1208650973866179e-2, -0.5395239384953e-5];
        double y = x, tmp = x + 5.5;
        tmp -= (x + 0.5) * Math.Log(tmp);
        double ser = 1.000000000190015;
        for (int j = 0; j < 6; j++) ser += g[j] / ++y;
        return -tmp + Math.Log(2.5066282746310005 * ser / x);
    }

    /// <summary>
    /// Scaled median absolute deviation around the median, by selection in O(n) (reorders the span):
    /// the same value as <see cref="RobustLocationScale"/>'s σ, cheap enough for every row of every comparison.
    /// </summary>
    public static double MadSigma(Span<double> values)
    {
        if (values.Length == 0) return 0;
        int mid = values.Length / 2;
        double median = Select(values, mid);
        for (int i = 0; i < values.Length; i++) values[i] = Math.Abs(values[i] - median);
        return 1.4826 * Select(values, mid);
    }

    /// <summary>The k-th smallest element (Hoare selection with median-of-three pivots); reorders the span.</summary>
    public static double Select(Span<double> values, int k)
    {
        int lo = 0, hi = values.Length - 1;
        while (hi > lo)
        {
            int m = lo + (hi - lo) / 2;
            if (values[m] < values[lo]) (values[m], values[lo]) = (values[lo], values[m]);
            if (values[hi] < values[lo]) (values[hi], values[lo]) = (values[lo], values[hi]);
            if (values[hi] < values[m]) (values[hi], values[m]) = (values[m], values[hi]);
            double pivot = values[m];
            int i = lo, j = hi;
            while (i <= j)
            {
                while (values[i] < pivot) i++;
                while (values[j] > pivot) j--;
                if (i <= j)
                {
                    (values[i], values[j]) = (values[j], values[i]);
                    i++;
                    j--;
                }
            }
            if (k <= j) hi = j;
            else if (k >= i) lo = i;
            else return values[k];
        }
        return values[k];
    }

    /// <summary>Median and scaled median absolute deviation (a robust mean and standard deviation).</summary>
    public static (double Median, double Sigma) RobustLocationScale(Span<double> values)
    {
        if (values.Length == 0) return (0, 0);
        values.Sort();
        double median = values[values.Length / 2];
        var dev = new double[values.Length];
        for (int i = 0; i < values.Length; i++) dev[i] = Math.Abs(values[i] - median);
        Array.Sort(dev);
        return (median, 1.4826 * dev[dev.Length / 2]);
    }
}
