namespace Lineage.Formats.Pickle;

/// <summary>
/// The Python 2 → 3 renames CPython's unpickler applies to GLOBAL/INST/STACK_GLOBAL names when the stream's
/// protocol is below 3 (<c>fix_imports=True</c>, the default): <c>__builtin__.eval</c> loads
/// <c>builtins.eval</c>, <c>commands.getoutput</c> loads <c>subprocess.getoutput</c>. A scanner that only
/// compared raw names would miss these aliases.
/// </summary>
internal static class PythonCompat
{
    private static readonly Dictionary<(string, string), (string, string)> Names = new()
    {
        [("__builtin__", "xrange")] = ("builtins", "range"),
        [("__builtin__", "reduce")] = ("functools", "reduce"),
        [("__builtin__", "intern")] = ("sys", "intern"),
        [("__builtin__", "unichr")] = ("builtins", "chr"),
        [("__builtin__", "unicode")] = ("builtins", "str"),
        [("__builtin__", "long")] = ("builtins", "int"),
        [("__builtin__", "basestring")] = ("builtins", "str"),
        [("__builtin__", "raw_input")] = ("builtins", "input"),
        [("__builtin__", "execfile")] = ("builtins", "exec"),
        [("itertools", "izip")] = ("builtins", "zip"),
        [("itertools", "imap")] = ("builtins", "map"),
        [("itertools", "ifilter")] = ("builtins", "filter"),
        [("itertools", "ifilterfalse")] = ("itertools", "filterfalse"),
        [("itertools", "izip_longest")] = ("itertools", "zip_longest"),
        [("UserDict", "IterableUserDict")] = ("collections", "UserDict"),
        [("UserList", "UserList")] = ("collections", "UserList"),
        [("UserString", "UserString")] = ("collections", "UserString"),
        [("whichdb", "whichdb")] = ("dbm", "whichdb"),
        [("_socket", "fromfd")] = ("socket", "fromfd"),
        [("_multiprocessing", "Connection")] = ("multiprocessing.connection", "Connection"),
        [("multiprocessing.process", "Process")] = ("multiprocessing.context", "Process"),
        [("multiprocessing.forking", "Popen")] = ("multiprocessing.popen_fork", "Popen"),
        [("urllib", "ContentTooShortError")] = ("urllib.error", "ContentTooShortError"),
        [("urllib", "getproxies")] = ("urllib.request", "getproxies"),
        [("urllib", "pathname2url")] = ("urllib.request", "pathname2url"),
        [("urllib", "quote_plus")] = ("urllib.parse", "quote_plus"),
        [("urllib", "quote")] = ("urllib.parse", "quote"),
        [("urllib", "unquote_plus")] = ("urllib.parse", "unquote_plus"),
        [("urllib", "unquote")] = ("urllib.parse", "unquote"),
        [("urllib", "url2pathname")] = ("urllib.request", "url2pathname"),
        [("urllib", "urlcleanup")] = ("urllib.request", "urlcleanup"),
        [("urllib", "urlencode")] = ("urllib.parse", "urlencode"),
        [("urllib", "urlopen")] = ("urllib.request", "urlopen"),
        [("urllib", "urlretrieve")] = ("urllib.request", "urlretrieve"),
        [("urllib2", "HTTPError")] = ("urllib.error", "HTTPError"),
        [("urllib2", "URLError")] = ("urllib.error", "URLError"),
        [("socket", "_socketobject")] = ("socket", "SocketType"),
    };

    private static readonly Dictionary<string, string> Modules = new(StringComparer.Ordinal)
    {
        ["__builtin__"] = "builtins",
        ["exceptions"] = "builtins",
        ["copy_reg"] = "copyreg",
        ["Queue"] = "queue",
        ["SocketServer"] = "socketserver",
        ["ConfigParser"] = "configparser",
        ["repr"] = "reprlib",
        ["tkFileDialog"] = "tkinter.filedialog",
        ["tkSimpleDialog"] = "tkinter.simpledialog",
        ["tkColorChooser"] = "tkinter.colorchooser",
        ["tkCommonDialog"] = "tkinter.commondialog",
        ["Dialog"] = "tkinter.dialog",
        ["Tkdnd"] = "tkinter.dnd",
        ["tkFont"] = "tkinter.font",
        ["tkMessageBox"] = "tkinter.messagebox",
        ["ScrolledText"] = "tkinter.scrolledtext",
        ["Tkconstants"] = "tkinter.constants",
        ["Tix"] = "tkinter.tix",
        ["ttk"] = "tkinter.ttk",
        ["Tkinter"] = "tkinter",
        ["markupbase"] = "_markupbase",
        ["_winreg"] = "winreg",
        ["thread"] = "_thread",
        ["dummy_thread"] = "_dummy_thread",
        ["dbhash"] = "dbm.bsd",
        ["dumbdbm"] = "dbm.dumb",
        ["dbm"] = "dbm.ndbm",
        ["gdbm"] = "dbm.gnu",
        ["xmlrpclib"] = "xmlrpc.client",
        ["DocXMLRPCServer"] = "xmlrpc.server",
        ["SimpleXMLRPCServer"] = "xmlrpc.server",
        ["httplib"] = "http.client",
        ["htmlentitydefs"] = "html.entities",
        ["HTMLParser"] = "html.parser",
        ["Cookie"] = "http.cookies",
        ["cookielib"] = "http.cookiejar",
        ["BaseHTTPServer"] = "http.server",
        ["SimpleHTTPServer"] = "http.server",
        ["CGIHTTPServer"] = "http.server",
        ["test.test_support"] = "test.support",
        ["commands"] = "subprocess",
        ["UserString"] = "collections",
        ["UserList"] = "collections",
        ["urlparse"] = "urllib.parse",
        ["robotparser"] = "urllib.robotparser",
        ["urllib2"] = "urllib.request",
        ["anydbm"] = "dbm",
        ["_abcoll"] = "collections.abc",
        ["cPickle"] = "pickle",
        ["_elementtree"] = "xml.etree.ElementTree",
        ["FileDialog"] = "tkinter.filedialog",
        ["SimpleDialog"] = "tkinter.simpledialog",
        ["StringIO"] = "io",
        ["cStringIO"] = "io",
        ["UserDict"] = "collections",
        ["whichdb"] = "dbm",
    };

    /// <summary>The (module, name) CPython imports for a reference in a stream of protocol <paramref name="protocol"/>.</summary>
    public static (string Module, string Name) Resolve(string module, string name, int protocol)
    {
        if (protocol >= 3) return (module, name);
        if (Names.TryGetValue((module, name), out var renamed)) return renamed;
        return Modules.TryGetValue(module, out var m) ? (m, name) : (module, name);
    }
}
