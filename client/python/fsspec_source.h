#pragma once

// Python source run when the kvtier module is imported: an fsspec
// filesystem over object namespaces (dataset: read; checkpoint: read and
// write), registered as "kvtier" when fsspec is installed (Debian:
// python3-fsspec). docs/python.md, "Objects and fsspec".

namespace kvtier::python {

inline constexpr const char* kFsspecSource = R"(
try:
    import fsspec
    from fsspec.spec import AbstractBufferedFile, AbstractFileSystem
except ImportError:
    fsspec = None

if fsspec is not None:
    class KvtierFile(AbstractBufferedFile):
        """An object: read pinned to the version it was opened at, or written
        (checkpoint namespaces) through a write session that commits at close."""
        def __init__(self, fs, path, mode="rb", **kwargs):
            self.ns, self.key = fs._split(path)
            super().__init__(fs, path, mode=mode, **kwargs)
            self.version = self.details.get("version", "") if mode == "rb" else ""

        def _fetch_range(self, start, end):
            return self.fs.client.read(self.ns, self.key, start, end - start, self.version)

        def _initiate_upload(self):
            self.session = self.fs.client.create_object(self.ns, self.key)
            self.next_block = 0
            self.pending = b""
            self.written = 0

        def _upload_chunk(self, final=False):
            block = self.session["block_bytes"]
            data = self.pending + self.buffer.getvalue()
            try:
                whole = len(data) - len(data) % block
                for start in range(0, whole, block):
                    self.fs.client.put_object_block(self.session, self.next_block,
                                                    data[start:start + block])
                    self.next_block += 1
                self.written += whole
                self.pending = data[whole:]
                if final:
                    if self.pending:
                        self.fs.client.put_object_block(self.session, self.next_block,
                                                        self.pending)
                        self.written += len(self.pending)
                    self.fs.client.commit_object(self.session, self.written)
            except Exception:
                self.fs.client.abort_object(self.session)
                raise
            return True

        def discard(self):
            if getattr(self, "session", None) is not None:
                self.fs.client.abort_object(self.session)

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
            if mode not in ("rb", "wb"):
                raise ValueError("kvtier objects open as rb or wb, not " + mode)
            if mode == "wb":
                ns, _ = self._split(path)
                kinds = dict(zip(self.client.server_info["namespaces"],
                                 self.client.server_info.get("namespace_kinds", [])))
                if kinds.get(ns) != "checkpoint":
                    raise PermissionError("only checkpoint namespaces take writes: " + path)
            return KvtierFile(self, path, mode=mode, block_size=block_size or "default",
                              cache_options=cache_options, **kwargs)

        def _rm(self, path):
            ns, key = self._split(path)
            try:
                self.client.delete_object(ns, key)
            except Error as error:
                if error.code == 2:
                    raise FileNotFoundError(path) from error
                raise

        def rm_file(self, path):
            self._rm(path)

        def mv(self, path1, path2, recursive=False, maxdepth=None, **kwargs):
            ns1, key1 = self._split(path1)
            ns2, key2 = self._split(path2)
            if ns1 != ns2:
                return super().mv(path1, path2, recursive=recursive, maxdepth=maxdepth, **kwargs)
            self.client.rename(ns1, key1, key2)
            self.invalidate_cache()

        def mkdir(self, path, create_parents=True, **kwargs):
            pass  # directories are path prefixes

        def makedirs(self, path, exist_ok=False):
            pass

    fsspec.register_implementation("kvtier", KvtierFileSystem, clobber=True)
)";

}  // namespace kvtier::python
