using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

[assembly: AssemblyFixture(typeof(Lineage.Tests.Support.PostgresServer))]

namespace Lineage.Tests.Support;

/// <summary>
/// One throwaway PostgreSQL server per test run (an assembly fixture), started on first use: Debian's
/// binaries (/usr/lib/postgresql/*/bin, else initdb on PATH), initdb into a temp dir (as the postgres user when
/// running as root), listening on 127.0.0.1 at a free port with trust authentication, stopped and deleted at
/// the end of the run. Each test gets its own schema (<see cref="NewUrl"/>), so tests are independent without
/// paying for a database each. When PostgreSQL is not installed, the tests that need it skip with a message;
/// under CI (CI=true) they fail instead, because .ci/run installs it.
/// </summary>
public sealed class PostgresServer : IDisposable
{
    private readonly Lock _gate = new();
    private string? _dir;
    private string? _bin;
    private int _port;
    private string? _failure;
    private bool _started;
    private int _schemas;

    /// <summary>A registry URL in a fresh schema of the test server; skips the test when there is no server.</summary>
    public string NewUrl(string prefix = "t")
    {
        Ensure();
        int n = Interlocked.Increment(ref _schemas);
        return $"postgres://postgres@127.0.0.1:{_port}/postgres?schema={prefix}_{n}_{Guid.NewGuid().ToString("N")[..8]}";
    }

    /// <summary>A connection as the superuser, for what tests do behind the store's back.</summary>
    public NpgsqlConnection Admin()
    {
        Ensure();
        var connection = new NpgsqlConnection($"Host=127.0.0.1;Port={_port};Username=postgres;Database=postgres;Pooling=false");
        connection.Open();
        return connection;
    }

    private void Ensure()
    {
        lock (_gate)
        {
            if (!_started && _failure is null)
            {
                try
                {
                    Start();
                    _started = true;
                }
                catch (Exception e) when (e is InvalidOperationException or IOException or System.ComponentModel.Win32Exception)
                {
                    _failure = e.Message;
                    Cleanup();
                }
            }
        }
        if (_failure is null) return;
        if (Environment.GetEnvironmentVariable("CI") is "true" or "1")
            Assert.Fail($"PostgreSQL is required under CI (.ci/apt-packages installs 'postgresql'): {_failure}");
        Assert.Skip($"PostgreSQL tests skipped: {_failure} (install the 'postgresql' package to run them)");
    }

    private static string? FindBin()
    {
        const string Debian = "/usr/lib/postgresql";
        if (Directory.Exists(Debian))
        {
            var best = Directory.EnumerateDirectories(Debian)
                .Select(d => (Dir: Path.Combine(d, "bin"), Version: int.TryParse(Path.GetFileName(d), out int v) ? v : 0))
                .Where(d => File.Exists(Path.Combine(d.Dir, "initdb")) && File.Exists(Path.Combine(d.Dir, "pg_ctl")))
                .OrderByDescending(d => d.Version).FirstOrDefault();
            if (best.Dir is not null) return best.Dir;
        }
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
            if (File.Exists(Path.Combine(dir, "initdb")) && File.Exists(Path.Combine(dir, "pg_ctl"))) return dir;
        return null;
    }

    private static bool IsRoot => Environment.UserName == "root";

    private void Start()
    {
        _bin = FindBin() ?? throw new InvalidOperationException("initdb/pg_ctl not found under /usr/lib/postgresql/*/bin or on PATH");
        _dir = Path.Combine(Path.GetTempPath(), "lineage-pg-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(_dir);
        string data = Path.Combine(_dir, "data");
        if (IsRoot) Exec("chown", ["-R", "postgres:postgres", _dir], asPostgres: false);
        Exec(Path.Combine(_bin, "initdb"), ["-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"], asPostgres: IsRoot);
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            _port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
        }
        // Durability settings off: the tests kill clients, never the server, and atomicity does not depend on fsync.
        string options = $"-p {_port} -c listen_addresses=127.0.0.1 -k {_dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200";
        Exec(Path.Combine(_bin, "pg_ctl"), ["-D", data, "-l", Path.Combine(_dir, "server.log"), "-w", "-t", "60", "-o", options, "start"], asPostgres: IsRoot);
    }

    private static void Exec(string file, string[] args, bool asPostgres)
    {
        var info = new ProcessStartInfo(asPostgres ? "runuser" : file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (asPostgres)
        {
            foreach (string a in new[] { "-u", "postgres", "--", file }) info.ArgumentList.Add(a);
        }
        foreach (string a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(120_000))
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{Path.GetFileName(file)} timed out");
        }
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{Path.GetFileName(file)} failed ({process.ExitCode}): {stderr.Result.Trim()} {stdout.Result.Trim()}".Trim());
    }

    private void Cleanup()
    {
        if (_dir is null) return;
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        _dir = null;
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_started && _bin is not null && _dir is not null)
            {
                NpgsqlConnection.ClearAllPools();
                try
                {
                    Exec(Path.Combine(_bin, "pg_ctl"), ["-D", Path.Combine(_dir, "data"), "-m", "immediate", "-w", "stop"], asPostgres: IsRoot);
                }
                catch (InvalidOperationException)
                {
                }
            }
            _started = false;
            Cleanup();
        }
    }
}
