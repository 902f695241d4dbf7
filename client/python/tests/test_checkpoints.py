"""Checkpoints from PyTorch through a kvtier-fuse mount of a checkpoint
namespace: torch.save to the mount and torch.load back, the same file in
Blob as an ordinary blob once flushed, torch.load of it through a second
mount of a second kvtierd sharing the container (another rack), and the
write-then-rename pattern frameworks use. Needs Debian's python3 with python3-torch
(scripts/setup.sh installs it), /dev/fuse and Azurite."""

import io
import os
import pathlib
import subprocess

import pytest

import kvtier
from conftest import Server
from test_objects import ACCOUNT, KEY, Azurite

pytestmark = pytest.mark.skipif(not os.path.exists("/dev/fuse"),
                                reason="no /dev/fuse on this machine")
torch = pytest.importorskip("torch")
fsspec = pytest.importorskip("fsspec")


def start_rack(azurite, tmp_path_factory):
    """A kvtierd with its own NVMe and a kvtier-fuse mount of it, its ckpt
    namespace in the container `training`."""
    nvme = tmp_path_factory.mktemp("nvme")
    server = Server(
        "tiers:\n"
        "  dram: {capacity: 64MiB}\n"
        f"  nvme: {{directory: {nvme}, capacity: 256MiB, segment_bytes: 8MiB}}\n"
        f"  blob: {{endpoint: 'http://127.0.0.1:{azurite.port}/{ACCOUNT}', account: {ACCOUNT},"
        " key_env: KVTIER_TEST_BLOB_KEY, container: training}\n"
        "namespaces:\n"
        "  - {name: ckpt, kind: checkpoint, tiers: [dram, nvme, blob],"
        " objects: {block_bytes: 1MiB}}\n")
    mount = tmp_path_factory.mktemp("mnt")
    bin_dir = pathlib.Path(os.environ.get("KVTIER_BIN_DIR", "build/bin"))
    subprocess.run([str(bin_dir / "kvtier-fuse"), "--server", f"127.0.0.1:{server.port}",
                    str(mount)], check=True)
    return server, mount


def stop_rack(server, mount):
    subprocess.run(["fusermount3", "-u", str(mount)], check=False)
    assert server.stop() == 0


@pytest.fixture(scope="module")
def mounted(tmp_path_factory):
    azurite = Azurite()
    os.environ["KVTIER_TEST_BLOB_KEY"] = KEY
    server, mount = start_rack(azurite, tmp_path_factory)
    yield server, azurite, mount
    stop_rack(server, mount)
    azurite.stop()


@pytest.fixture(scope="module")
def second_rack(mounted, tmp_path_factory):
    """Another kvtierd with its own NVMe and mount, on the same container."""
    _, azurite, _ = mounted
    server, mount = start_rack(azurite, tmp_path_factory)
    yield server, mount
    stop_rack(server, mount)


def state_dict(seed):
    generator = torch.Generator().manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(512, 1024), torch.nn.ReLU(),
                                torch.nn.Linear(1024, 256))
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator))
    return {"model": model.state_dict(), "step": seed,
            "optimizer": {"lr": 0.1, "moments": torch.randn(300_000, generator=generator)}}


def assert_equal(got, want):
    assert got["step"] == want["step"]
    for name, tensor in want["model"].items():
        assert torch.equal(got["model"][name], tensor), name
    assert torch.equal(got["optimizer"]["moments"], want["optimizer"]["moments"])


def test_torch_save_to_the_mount_loads_back_and_lands_in_blob(mounted):
    server, azurite, mount = mounted
    saved = state_dict(100)
    (mount / "ckpt" / "run1").mkdir()
    path = mount / "ckpt" / "run1" / "step-100.pt"
    torch.save(saved, path)
    assert_equal(torch.load(path), saved)

    client = kvtier.Client("127.0.0.1", server.port)
    client.flush("ckpt", ["run1/step-100.pt"])
    assert os.getxattr(path, "user.kvtier.in_blob") == b"1"
    # An ordinary blob at the same path: any Blob client reads it.
    blob = azurite.get_blob("training", "ckpt/run1/step-100.pt")
    assert blob == path.read_bytes()
    assert_equal(torch.load(io.BytesIO(blob)), saved)


def test_torch_load_through_a_second_rack_sharing_the_container(mounted, second_rack):
    server, _, mount = mounted
    _, other_mount = second_rack
    saved = state_dict(300)
    (mount / "ckpt" / "run2").mkdir()
    torch.save(saved, mount / "ckpt" / "run2" / "step-300.pt")
    kvtier.Client("127.0.0.1", server.port).flush("ckpt", ["run2/step-300.pt"])
    # The other rack's server reads it from Blob once, then from its tiers.
    assert_equal(torch.load(other_mount / "ckpt" / "run2" / "step-300.pt"), saved)
    assert "step-300.pt" in os.listdir(other_mount / "ckpt" / "run2")
    assert os.getxattr(other_mount / "ckpt" / "run2" / "step-300.pt",
                       "user.kvtier.in_blob") == b"1"
    assert ((other_mount / "ckpt" / "run2" / "step-300.pt").read_bytes()
            == (mount / "ckpt" / "run2" / "step-300.pt").read_bytes())


def test_write_to_a_temporary_name_then_rename(mounted):
    _, _, mount = mounted
    saved = state_dict(200)
    final = mount / "ckpt" / "step-200.pt"
    temporary = mount / "ckpt" / "step-200.pt.tmp"
    torch.save(saved, temporary)
    os.replace(temporary, final)
    assert not temporary.exists()
    assert_equal(torch.load(final), saved)
    # Saving over an existing checkpoint replaces it whole.
    newer = state_dict(201)
    torch.save(newer, final)
    assert_equal(torch.load(final), newer)
    os.remove(final)
    assert not final.exists()


def test_python_and_fsspec_write_checkpoint_objects(mounted):
    server, _, mount = mounted
    client = kvtier.Client("127.0.0.1", server.port)
    data = os.urandom(2 * (1 << 20) + 777)
    info = client.write("ckpt", "py/whole.bin", data)
    assert info["size"] == len(data)
    assert client.read("ckpt", "py/whole.bin") == data
    # A session by hand: blocks in any order, nothing visible before commit.
    session = client.create_object("ckpt", "py/by-hand.bin")
    block = session["block_bytes"]
    client.put_object_block(session, 1, data[block:2 * block])
    client.put_object_block(session, 0, data[:block])
    with pytest.raises(kvtier.Error) as missing:
        client.stat("ckpt", "py/by-hand.bin")
    assert missing.value.code == kvtier.StatusCode.NOT_FOUND
    client.commit_object(session, 2 * block)
    assert client.read("ckpt", "py/by-hand.bin") == data[:2 * block]
    client.rename("ckpt", "py/by-hand.bin", "py/renamed.bin")
    assert (mount / "ckpt" / "py" / "renamed.bin").read_bytes() == data[:2 * block]

    fs = fsspec.filesystem("kvtier", host="127.0.0.1", port=server.port)
    with fs.open("kvtier://ckpt/fs/model.bin", "wb", block_size=1 << 20) as f:
        for start in range(0, len(data), 300_000):
            f.write(data[start:start + 300_000])
    assert fs.cat("ckpt/fs/model.bin") == data
    fs.mv("ckpt/fs/model.bin", "ckpt/fs/final.bin")
    assert fs.ls("ckpt/fs", detail=False) == ["ckpt/fs/final.bin"]
    fs.rm("ckpt/fs/final.bin")
    assert not fs.exists("ckpt/fs/final.bin")
    with pytest.raises(kvtier.Error) as denied:
        client.write("nope", "x", b"x")
    assert denied.value.code == kvtier.StatusCode.UNKNOWN_NAMESPACE


def distributed_checkpoint():
    """torch.distributed.checkpoint, or where torch 1.13 keeps it. Debian's
    python3-torch 1.13 cannot import it under Python 3.11 as it is: one of
    its dataclasses has an instance as a field default, which 3.11 refuses.
    That field alone is turned into a default_factory while importing; the
    checkpoint code itself runs unchanged."""
    try:
        import torch.distributed.checkpoint as dcp
        return dcp
    except ImportError:
        pass
    import copy
    import dataclasses
    get_field = dataclasses._get_field

    def lenient_get_field(cls, name, type_, *rest):
        try:
            return get_field(cls, name, type_, *rest)
        except ValueError as error:
            if "mutable default" not in str(error):
                raise
            value = cls.__dict__[name]
            default = value.default if isinstance(value, dataclasses.Field) else value
            setattr(cls, name,
                    dataclasses.field(default_factory=lambda d=default: copy.deepcopy(d)))
            return get_field(cls, name, type_, *rest)

    dataclasses._get_field = lenient_get_field
    try:
        import torch.distributed._shard.checkpoint as dcp
        return dcp
    finally:
        dataclasses._get_field = get_field


def test_distributed_checkpoint_writer_and_reader_on_the_mount(mounted):
    server, azurite, mount = mounted
    dcp = distributed_checkpoint()
    saved = state_dict(400)
    flat = dict(saved["model"])
    flat["moments"] = saved["optimizer"]["moments"]
    directory = mount / "ckpt" / "dcp" / "step-400"
    directory.mkdir(parents=True)
    dcp.save_state_dict(flat, dcp.FileSystemWriter(str(directory)), no_dist=True)
    files = sorted(os.listdir(directory))
    assert ".metadata" in files and any(name.endswith(".distcp") for name in files)

    loaded = {name: torch.zeros_like(tensor) for name, tensor in flat.items()}
    dcp.load_state_dict(loaded, dcp.FileSystemReader(str(directory)), no_dist=True)
    for name, tensor in flat.items():
        assert torch.equal(loaded[name], tensor), name

    # Every file of the checkpoint lands in Blob as an ordinary blob.
    kvtier.Client("127.0.0.1", server.port).flush(
        "ckpt", [f"dcp/step-400/{name}" for name in files])
    for name in files:
        assert (azurite.get_blob("training", f"ckpt/dcp/step-400/{name}")
                == (directory / name).read_bytes()), name
