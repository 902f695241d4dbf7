#pragma once

// Python source run when the kvtier module is imported: an fsspec
// filesystem over dataset namespaces, registered as "kvtier" when fsspec is
// installed (Debian: python3-fsspec). docs/python.md, "Objects and fsspec".

namespace kvtier::python {

inline constexpr const char* kFsspecSource = R"(
try:
    import fsspec
    from fsspec.spec import AbstractBufferedFile, AbstractFileSystem
except ImportError:
    fsspec = None

if fsspec is not None:
    class KvtierFile(AbstractBufferedFile):
        """A read-only object, pinned to the version it was opened at."""
        def __init__(self, fs, path, **kwargs):
            super().__init__(fs, path, **kwargs)
            self.ns, self.key = fs._split(path)
            self.version = self.details.get("version", "")

        def _fetch_range(self, start, end):
            return self.fs.client.read(self.ns, self.key, start, end - start, self.version)

    class KvtierFileSystem(AbstractFileSystem):
        """kvtier://NAMESPACE/PATH: the objects of a kvtierd's dataset namespaces."""
        protocol = "kvtier"
        root_marker = ""

        def __init__(self, host="127.0.0.1", port=7400, token="", **kwargs):
            super().__init__(**kwargs)
            self.client = Client(host, port, token=token, bulk=True)

        @classmethod
        def _strip_protocol(cls, path):
            if path.startswith("kvtier://"):
                path = path[len("kvtier://"):]
            return path.strip("/")

        def _split(self, path):
            ns, _, key = self._strip_protocol(path).partition("/")
            return ns, key

        @staticmethod
        def _file(ns, obj):
            return {"name": ns + "/" + obj["path"], "size": obj["size"], "type": "file",
                    "version": obj["version"], "mtime": obj["modified_ms"] / 1000.0,
                    "block_bytes": obj["block_bytes"]}

        def ls(self, path, detail=True, **kwargs):
            ns, key = self._split(path)
            if not ns:
                out = [{"name": n, "size": 0, "type": "directory"}
                       for n in self.client.server_info["namespaces"]]
            else:
                prefix = key + "/" if key else ""
                out, token = [], ""
                while True:
                    page = self.client.list(ns, prefix, "/", token)
                    out += [{"name": ns + "/" + d.rstrip("/"), "size": 0, "type": "directory"}
                            for d in page["prefixes"]]
                    out += [self._file(ns, o) for o in page["objects"]]
                    token = page["next_page_token"]
                    if not token:
                        break
                if not out and key:
                    out = [self.info(path)]  # a file, or FileNotFoundError
                out.sort(key=lambda entry: entry["name"])
            return out if detail else [entry["name"] for entry in out]

        def info(self, path, **kwargs):
            ns, key = self._split(path)
            if not key:
                return {"name": ns, "size": 0, "type": "directory"}
            try:
                return self._file(ns, self.client.stat(ns, key))
            except Error as error:
                if error.code != 2:  # not_found: maybe a directory
                    raise
            page = self.client.list(ns, key + "/", "/", "", 1)
            if page["objects"] or page["prefixes"]:
                return {"name": ns + "/" + key, "size": 0, "type": "directory"}
            raise FileNotFoundError(path)

        def _open(self, path, mode="rb", block_size=None, autocommit=True, cache_options=None,
                  **kwargs):
            if mode != "rb":
                raise PermissionError("kvtier dataset namespaces are read-only: " + path)
            return KvtierFile(self, path, mode=mode, block_size=block_size or "default",
                              cache_options=cache_options, **kwargs)

    fsspec.register_implementation("kvtier", KvtierFileSystem, clobber=True)
)";

}  // namespace kvtier::python
