using Lineage.Supply;
using Lineage.Tests.Support;

namespace Lineage.Tests.Supply;

public sealed class ManifestTests
{
    private static DependencyReport Audit(string path) => DependencyAuditor.Run([path], null);

    private static PackageEntry Package(DependencyReport r, string name) => r.Packages.Single(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase));

    [Fact]
    public void Requirements_with_includes_hashes_continuations_extras_markers_urls_and_vcs()
    {
        using var dir = new TempDir();
        dir.Write("requirements.txt", """
            # top comment
            --index-url https://pypi.example/simple
            -r base.txt
            -c constraints/pins.txt
            requests[socks,security]==2.31.0 \
                --hash=sha256:aaaa \
                --hash sha256:bbbb
            torch>=2.1 ; python_version >= "3.10"   # a range, pinned by the constraints file
            numpy (>=1.26, <2)
            mylib @ git+https://github.com/org/mylib.git@0123456789abcdef0123456789abcdef01234567
            otherlib @ git+https://github.com/org/otherlib.git@v1.2
            -e git+https://github.com/org/editable.git#egg=editable-pkg
            https://files.example/wheels/Flash_Attn-2.5.8-cp311-cp311-linux_x86_64.whl#sha256=cccc
            ./local/project
            """);
        dir.Write("base.txt", "pyyaml==6.0.1 --hash=sha256:dddd\n");
        dir.Write("constraints/pins.txt", "torch==2.3.1\nunused==1.0\n");
        var r = Audit(dir.File("requirements.txt"));
        Assert.Empty(r.Errors);
        Assert.Equal("2.31.0", Package(r, "requests").Version);
        Assert.Equal(5, Package(r, "requests").Line);
        Assert.Equal(["sha256:aaaa", "sha256:bbbb"], Package(r, "requests").Hashes);
        Assert.Equal("2.3.1", Package(r, "torch").Version);                 // constraints pin the range
        Assert.EndsWith("pins.txt", Package(r, "torch").SourceFile, StringComparison.Ordinal);
        Assert.Null(Package(r, "numpy").Version);
        Assert.Equal(">=1.26,<2", Package(r, "numpy").Specifier);
        Assert.Equal("6.0.1", Package(r, "pyyaml").Version);
        Assert.EndsWith("base.txt", Package(r, "pyyaml").SourceFile, StringComparison.Ordinal);
        Assert.Equal("2.5.8", Package(r, "Flash_Attn").Version);
        Assert.DoesNotContain(r.Packages, p => p.Name == "unused");         // constraints alone add nothing
        Assert.Contains(r.Notes, n => n.Contains("local/project", StringComparison.Ordinal));
        var rules = r.Findings.Select(f => (f.Rule, f.Package)).ToHashSet();
        Assert.Contains(("unpinned", "numpy"), rules);
        Assert.DoesNotContain(("unpinned", "torch"), rules);
        Assert.Contains(("vcs-unpinned", "otherlib"), rules);
        Assert.Contains(("vcs-unpinned", "editable-pkg"), rules);
        Assert.DoesNotContain(("vcs-unpinned", "mylib"), rules);
        Assert.Contains(("unhashed", "numpy"), rules);                      // hash-checking mode: others have --hash
        Assert.Contains(("unhashed", "torch"), rules);
        Assert.DoesNotContain(("unhashed", "requests"), rules);
        Assert.DoesNotContain(("unhashed", "Flash_Attn"), rules);           // #sha256 fragment counts
        Assert.Equal(9, r.Findings.Single(f => f.Rule == "unpinned" && f.Package == "numpy").Line);
    }

    [Fact]
    public void Requirements_without_any_hash_raise_no_unhashed_and_include_cycles_terminate()
    {
        using var dir = new TempDir();
        dir.Write("requirements.txt", "-r other.txt\nflask==3.0.0\n");
        dir.Write("other.txt", "-r requirements.txt\njinja2==3.1.4\n");
        var r = Audit(dir.Path);
        Assert.Empty(r.Errors);
        Assert.DoesNotContain(r.Findings, f => f.Rule == "unhashed");
        Assert.Equal(["flask", "jinja2"], r.Packages.Select(p => p.Name).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("requests===", "line 1")]
    [InlineData("flask==1.0\n--frobnicate yes\n", "line 2: unknown option")]
    [InlineData("flask==1.0 --hash\n", "needs a value")]
    [InlineData("-r missing.txt\n", "line 1: included file not found")]
    [InlineData("ok==1\n\nnot a requirement at all!\n", "line 3")]
    [InlineData("git+https://github.com/org/repo.git@main\n", "without a package name")]
    public void Broken_requirements_name_file_and_line(string text, string expected)
    {
        using var dir = new TempDir();
        string file = dir.Write("requirements.txt", text);
        var r = Audit(file);
        var error = Assert.Single(r.Errors);
        Assert.Contains(file, error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Equal(Lineage.Security.ScanOutcome.Error, r.Outcome(Lineage.Security.Severity.Critical));
    }

    [Fact]
    public void A_1_GB_requirements_line_is_an_error_not_an_allocation()
    {
        using var dir = new TempDir();
        string file = dir.File("requirements.txt");
        using (var fs = new FileStream(file, FileMode.Create))
        {
            fs.Write("torch=="u8);
            fs.SetLength(1L << 30); // sparse: one gigabyte line of NUL characters
        }
        long before = GC.GetTotalAllocatedBytes(precise: false);
        var r = Audit(file);
        long allocated = GC.GetTotalAllocatedBytes(precise: false) - before;
        var error = Assert.Single(r.Errors);
        Assert.Contains("line 1: longer than", error.Message, StringComparison.Ordinal);
        Assert.True(allocated < 64L << 20, $"allocated {allocated} bytes");
    }

    [Fact]
    public void Pyproject_pep621_groups_build_and_poetry()
    {
        using var dir = new TempDir();
        dir.Write("pyproject.toml", """
            [build-system]
            requires = ["setuptools>=68", "wheel"]

            [project]
            name = "svc"
            dependencies = [
              "transformers==4.44.0",
              "accelerate>=0.30",
              "peft @ git+https://github.com/huggingface/peft@main",
            ]
            [project.optional-dependencies]
            gpu = ["bitsandbytes==0.43.1; sys_platform == 'linux'"]

            [dependency-groups]
            test = ["pytest>=8", {include-group = "lint"}]
            lint = ["ruff==0.5.0"]

            [tool.poetry.dependencies]
            python = "^3.10"
            langchain = "0.2.11"
            openai = { version = "^1.30", extras = ["datalib"] }
            vllm = [{ version = "0.5.3", markers = "sys_platform == 'linux'" }, { version = "0.5.2", markers = "sys_platform == 'darwin'" }]
            mypkg = { git = "https://github.com/org/mypkg.git", rev = "0123456789abcdef0123456789abcdef01234567" }

            [tool.poetry.group.dev.dependencies]
            black = "*"
            """);
        var r = Audit(dir.Path);
        Assert.Empty(r.Errors);
        Assert.Equal("4.44.0", Package(r, "transformers").Version);
        Assert.Equal(7, Package(r, "transformers").Line);
        Assert.Equal("0.43.1", Package(r, "bitsandbytes").Version);
        Assert.Equal("gpu", Package(r, "bitsandbytes").Group);
        Assert.Equal("0.5.0", Package(r, "ruff").Version);
        Assert.Equal("0.2.11", Package(r, "langchain").Version);           // a bare Poetry version is exact
        Assert.Equal(["0.5.2", "0.5.3"], r.Packages.Where(p => p.Name == "vllm").Select(p => p.Version).Order(StringComparer.Ordinal));
        Assert.DoesNotContain(r.Packages, p => p.Name == "python");
        var unpinned = r.Findings.Where(f => f.Rule == "unpinned").Select(f => f.Package).ToHashSet();
        Assert.Superset(new HashSet<string> { "accelerate", "openai", "black", "pytest", "setuptools", "wheel" }, unpinned);
        Assert.Contains(r.Findings, f => f.Rule == "vcs-unpinned" && f.Package == "peft" && f.Line == 9);
        Assert.DoesNotContain(r.Findings, f => f.Package == "mypkg");
    }

    [Fact]
    public void Lock_versions_win_over_manifest_ranges_beside_them()
    {
        using var dir = new TempDir();
        dir.Write("pyproject.toml", "[project]\nname = \"x\"\ndependencies = [\"torch>=2\", \"peft @ git+https://github.com/huggingface/peft@main\"]\n");
        dir.Write("uv.lock", """
            version = 1
            requires-python = ">=3.10"

            [[package]]
            name = "x"
            version = "0.1.0"
            source = { editable = "." }

            [[package]]
            name = "torch"
            version = "2.3.1"
            source = { registry = "https://pypi.org/simple" }
            wheels = [{ url = "https://files/torch-2.3.1-cp311-none-any.whl", hash = "sha256:eeee" }]

            [[package]]
            name = "peft"
            version = "0.12.0"
            source = { git = "https://github.com/huggingface/peft?rev=main#0123456789abcdef0123456789abcdef01234567" }
            """);
        var r = Audit(dir.Path);
        Assert.Empty(r.Errors);
        var torch = Package(r, "torch");
        Assert.Equal("2.3.1", torch.Version);
        Assert.EndsWith("uv.lock", torch.SourceFile, StringComparison.Ordinal);
        Assert.Equal(10, torch.Line);
        Assert.True(torch.Direct);
        Assert.Equal(">=2", torch.Specifier);
        Assert.Equal(["sha256:eeee"], torch.Hashes);
        Assert.DoesNotContain(r.Packages, p => p.Name == "x");
        Assert.DoesNotContain(r.Findings, f => f.Rule is "unpinned" or "vcs-unpinned"); // the lock pins both
    }

    [Fact]
    public void Poetry_lock_and_pipfile_lock()
    {
        using var dir = new TempDir();
        dir.Write("a/poetry.lock", """
            # This file is automatically @generated by Poetry 1.8.3 and should not be changed by hand.

            [[package]]
            name = "Requests"
            version = "2.32.3"
            description = "HTTP"
            optional = false
            python-versions = ">=3.8"
            files = [
                {file = "requests-2.32.3-py3-none-any.whl", hash = "sha256:ffff"},
            ]

            [[package]]
            name = "mylib"
            version = "1.0"
            [package.source]
            type = "git"
            url = "https://github.com/org/mylib.git"
            reference = "main"
            resolved_reference = "0123456789abcdef0123456789abcdef01234567"

            [metadata]
            lock-version = "2.0"
            content-hash = "abc"
            """);
        dir.Write("b/Pipfile.lock", """
            {
                "_meta": {"hash": {"sha256": "x"}, "pipfile-spec": 6},
                "default": {
                    "numpy": {"hashes": ["sha256:1111"], "version": "==1.26.4"},
                    "gitdep": {"git": "https://github.com/org/gitdep.git", "ref": "v1"}
                },
                "develop": {"pytest": {"version": "==8.2.0"}}
            }
            """);
        var r = Audit(dir.Path);
        Assert.Empty(r.Errors);
        Assert.Equal("2.32.3", Package(r, "Requests").Version);
        Assert.Equal(4, Package(r, "Requests").Line);
        Assert.Equal("1.26.4", Package(r, "numpy").Version);
        Assert.Equal(4, Package(r, "numpy").Line);
        Assert.Equal("dev", Package(r, "pytest").Group);
        Assert.Contains(r.Findings, f => f.Rule == "vcs-unpinned" && f.Package == "gitdep");
        Assert.DoesNotContain(r.Findings, f => f.Package == "mylib");
    }

    [Fact]
    public void Npm_package_json_with_lock_v3_and_yarn_v1()
    {
        using var dir = new TempDir();
        dir.Write("web/package.json", """
            {
              "name": "web",
              "dependencies": { "openai": "^4.50.0", "left-pad": "1.3.0", "lib": "github:org/lib#main", "local": "file:../local" },
              "devDependencies": { "typescript": "~5.4.0" }
            }
            """);
        dir.Write("web/package-lock.json", """
            {
              "name": "web",
              "lockfileVersion": 3,
              "packages": {
                "": { "name": "web" },
                "node_modules/openai": { "version": "4.52.0", "resolved": "https://registry/openai-4.52.0.tgz", "integrity": "sha512-AAAA" },
                "node_modules/@types/node": { "version": "20.1.0", "dev": true },
                "node_modules/openai/node_modules/@types/node": { "version": "18.0.0" },
                "node_modules/aliased": { "name": "real-name", "version": "1.0.0" },
                "node_modules/lib": { "version": "1.0.0", "resolved": "git+ssh://git@github.com/org/lib.git#0123456789abcdef0123456789abcdef01234567" },
                "packages/inner": { "name": "inner", "version": "0.0.1" },
                "node_modules/inner": { "resolved": "packages/inner", "link": true }
              }
            }
            """);
        dir.Write("app/package.json", """{ "name": "app", "dependencies": { "axios": "^1.6.0", "@scope/pkg": "^2.0.0" } }""");
        dir.Write("app/yarn.lock", """
            # THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.
            # yarn lockfile v1


            axios@^1.6.0, axios@^1.6.2:
              version "1.7.2"
              resolved "https://registry.yarnpkg.com/axios/-/axios-1.7.2.tgz#abc"
              integrity sha512-BBBB
              dependencies:
                follow-redirects "^1.15.6"

            "@scope/pkg@^2.0.0":
              version "2.1.0"
            """);
        var r = Audit(dir.Path);
        Assert.Empty(r.Errors);
        Assert.Equal("4.52.0", Package(r, "openai").Version);
        Assert.Equal(["18.0.0", "20.1.0"], r.Packages.Where(p => p.Name == "@types/node").Select(p => p.Version).Order(StringComparer.Ordinal));
        Assert.Equal("1.0.0", Package(r, "real-name").Version);
        Assert.Equal("1.3.0", Package(r, "left-pad").Version);
        Assert.Equal("pkg:npm/%40scope/pkg@2.1.0", Package(r, "@scope/pkg").Purl);
        Assert.Equal(12, Package(r, "@scope/pkg").Line);
        Assert.Equal("1.7.2", Package(r, "axios").Version);
        Assert.DoesNotContain(r.Packages, p => p.Name is "inner" or "local" or "web");
        Assert.Contains(r.Findings, f => f.Rule == "unpinned" && f.Package == "typescript");
        Assert.DoesNotContain(r.Findings, f => f.Rule == "vcs-unpinned");   // the lock resolved a commit
    }

    [Fact]
    public void Lockfile_v1_and_yarn_berry()
    {
        using var dir = new TempDir();
        dir.Write("v1/package-lock.json", """{"lockfileVersion":1,"dependencies":{"a":{"version":"1.0.0","dependencies":{"b":{"version":"2.0.0"}}}}}""");
        dir.Write("berry/yarn.lock", "__metadata:\n  version: 6\n\n\"lodash@npm:^4.17.0\":\n  version: 4.17.21\n  resolution: \"lodash@npm:4.17.21\"\n  checksum: abc\n\n\"app@workspace:.\":\n  version: 0.0.0-use.local\n");
        var r = Audit(dir.Path);
        Assert.Empty(r.Errors);
        Assert.Equal(["a", "b", "lodash"], r.Packages.Select(p => p.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Installed_site_packages_node_modules_and_egg_info()
    {
        using var dir = new TempDir();
        string sp = "venv/lib/python3.12/site-packages";
        dir.Write($"{sp}/torch-2.3.1.dist-info/METADATA", "Metadata-Version: 2.1\nName: torch\nVersion: 2.3.1\nSummary: Tensors\n\nlong description\nName: not-this\n");
        dir.Write($"{sp}/torch-2.3.1.dist-info/RECORD", "torch/__init__.py,sha256=x,1\n");
        dir.Write($"{sp}/mylib-0.1.dist-info/METADATA", "Metadata-Version: 2.1\nName: mylib\nVersion: 0.1\n");
        dir.Write($"{sp}/mylib-0.1.dist-info/direct_url.json", """{"url":"https://github.com/org/mylib.git","vcs_info":{"vcs":"git","commit_id":"0123456789abcdef0123456789abcdef01234567","requested_revision":"main"}}""");
        dir.Write($"{sp}/wheelpkg-1.0.dist-info/METADATA", "Name: wheelpkg\nVersion: 1.0\n");
        dir.Write($"{sp}/wheelpkg-1.0.dist-info/direct_url.json", """{"url":"https://files/wheelpkg-1.0.whl","archive_info":{"hashes":{"sha256":"abcd"}}}""");
        dir.Write($"{sp}/old_pkg-0.5-py3.12.egg-info/PKG-INFO", "Metadata-Version: 1.1\nName: old-pkg\nVersion: 0.5\n");
        dir.Write($"{sp}/flat-1.0.egg-info", "Metadata-Version: 1.0\nName: flat\nVersion: 1.0\n");
        dir.Write($"{sp}/torch/requirements.txt", "this would be an error if read as a manifest? no: it is a normal requirements file\n".Replace("this would", "#", StringComparison.Ordinal));
        dir.Write("node_modules/express/package.json", """{"name":"express","version":"4.19.2","_integrity":"sha512-CCCC","dependencies":{"debug":"2.6.9"}}""");
        dir.Write("node_modules/@scope/x/package.json", """{"name":"@scope/x","version":"1.0.0"}""");
        dir.Write("node_modules/express/node_modules/debug/package.json", """{"name":"debug","version":"2.6.9"}""");
        dir.Write("node_modules/express/lib/package.json", """{"name":"not-a-package-root","version":"9.9.9"}""");
        var r = Audit(dir.Path);
        Assert.Empty(r.Errors);
        Assert.Equal("2.3.1", Package(r, "torch").Version);
        Assert.Equal("0.5", Package(r, "old-pkg").Version);
        Assert.Equal("1.0", Package(r, "flat").Version);
        Assert.Equal(["sha256:abcd"], Package(r, "wheelpkg").Hashes);
        Assert.Equal("4.19.2", Package(r, "express").Version);
        Assert.Equal("2.6.9", Package(r, "debug").Version);
        Assert.Equal("1.0.0", Package(r, "@scope/x").Version);
        Assert.DoesNotContain(r.Packages, p => p.Name is "not-a-package-root" or "not-this");
        Assert.DoesNotContain(r.Findings, f => f.Rule == "vcs-unpinned");
        Assert.Equal(DependencyOrigin.Installed, Package(r, "torch").Origin);
    }

    [Theory]
    [InlineData("pyproject.toml", "[project]\nname = \"x\"\ndependencies = [\n  \"ok==1\",\n  \"bad ===\",\n]\n", "line 5")]
    [InlineData("pyproject.toml", "[project]\nname = \"x\"\ndependencies = [\"a\"\n[tool]\n", "line 4: invalid TOML")]
    [InlineData("pyproject.toml", "[project]\nname = 1\nname = 2\n", "line 3: invalid TOML")]
    [InlineData("uv.lock", "version = 1\n[[package]]\nversion = \"1.0\"\n", "has no name")]
    [InlineData("poetry.lock", "[[package]]\nname = \"a\"\nversion = \n", "line 3: invalid TOML")]
    [InlineData("package.json", "{\n  \"dependencies\": {\n    \"a\": \"1.0.0\",\n  }\n}\n", "line 4: invalid JSON")]
    [InlineData("package-lock.json", "{\"lockfileVersion\": 3, \"packages\": []}", "'packages' is not an object")]
    [InlineData("Pipfile.lock", "{\"default\": {\"a\": 5}}", "entry 'a' is not an object")]
    [InlineData("yarn.lock", "# yarn lockfile v1\n\na@^1:\n  resolved \"x\"\n", "line 3: entry 'a@^1' has no version")]
    [InlineData("yarn.lock", "# yarn lockfile v1\n\n  version \"1\"\n", "line 3: indented line outside an entry")]
    [InlineData("Pipfile", "[packages]\nrequests = 5\n", "line 2")]
    public void Broken_manifests_and_locks_name_file_and_line(string name, string text, string expected)
    {
        using var dir = new TempDir();
        string file = dir.Write(name, text);
        var r = Audit(dir.Path);
        var error = Assert.Single(r.Errors);
        Assert.Contains(file, error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Single_files_are_classified_by_content_when_the_name_says_nothing()
    {
        using var dir = new TempDir();
        Assert.Equal(DependencyFileKind.PackageLock, DependencyDiscovery.Classify(dir.Write("x.json", """{"name":"a","lockfileVersion":3,"packages":{}}"""), sniff: true));
        Assert.Equal(DependencyFileKind.PipfileLock, DependencyDiscovery.Classify(dir.Write("y.json", """{"_meta":{},"default":{}}"""), sniff: true));
        Assert.Equal(DependencyFileKind.Requirements, DependencyDiscovery.Classify(dir.Write("deps.pins", "torch==2.0\n# c\nnumpy>=1\n"), sniff: true));
        Assert.Equal(DependencyFileKind.PoetryLock, DependencyDiscovery.Classify(dir.Write("lock1", "[[package]]\nname = \"a\"\n\n[metadata]\ncontent-hash = \"x\"\n"), sniff: true));
        Assert.Equal(DependencyFileKind.UvLock, DependencyDiscovery.Classify(dir.Write("lock2", "version = 1\n[[package]]\nname = \"a\"\n"), sniff: true));
        Assert.Equal(DependencyFileKind.YarnLock, DependencyDiscovery.Classify(dir.Write("lock3", "# yarn lockfile v1\n"), sniff: true));
        Assert.Null(DependencyDiscovery.Classify(dir.Write("notes.md", "# Title\nSome prose, not a requirement.\n"), sniff: true));
        Assert.Equal(Lineage.Security.ScanOutcome.NothingScannable, Audit(dir.File("notes.md")).Outcome(Lineage.Security.Severity.Medium));
    }

    [Theory]
    [InlineData("requets", "requests")]
    [InlineData("transfomers", "transformers")]
    [InlineData("hugging-face-hub", "huggingface-hub")]
    [InlineData("tourch", "torch")]
    [InlineData("Torch_Vision", "torchvision")]
    [InlineData("lite-llm", "litellm")]
    [InlineData("pyt0rch-lightning", "pytorch-lightning")]
    [InlineData("lllama-index", "llama-index")]
    [InlineData("anthropicc", "anthropic")]
    public void Typosquats_of_popular_ml_packages_are_caught(string name, string popular)
    {
        var match = Typosquats.Check("PyPI", name);
        Assert.NotNull(match);
        Assert.Equal(popular, match.Popular);
    }

    [Theory]
    [InlineData("PyPI", "torch")]
    [InlineData("PyPI", "TorchVision")]
    [InlineData("PyPI", "torchx")]
    [InlineData("PyPI", "fastai")]
    [InlineData("PyPI", "jaxlie")]
    [InlineData("PyPI", "django")]
    [InlineData("PyPI", "trl")]
    [InlineData("npm", "openai")]
    [InlineData("npm", "gaxios")]
    public void Real_packages_are_not_typosquats(string ecosystem, string name) => Assert.Null(Typosquats.Check(ecosystem, name));

    [Fact]
    public void Npm_typosquat_of_a_scoped_package()
    {
        Assert.Equal("@anthropic-ai/sdk", Typosquats.Check("npm", "anthropic-ai-sdk")!.Popular);
        Assert.Equal("openai", Typosquats.Check("npm", "openia")!.Popular);
    }
}
