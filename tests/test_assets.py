"""The asset registry: registry completeness, resolution order, verification, atomic downloads, messages.

Downloads are exercised against file:// URLs and a loopback HTTP server (one that serves a file, one
that drops the connection half-way); nothing here touches the network. Each test that resolves fake
assets builds a throw-away repository root (data/registry.toml + data/config.toml) under tmp_path.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import re
import shutil
import socket
import tarfile
import threading
import time
import zipfile
from pathlib import Path

import pytest

from perceptual_compression.assets import (
    AssetUnavailableError,
    ChecksumError,
    RegistryError,
    asset_info,
    load_registry,
    locate,
    registry,
    resolve,
)
from perceptual_compression.assets import checksums as checksums_mod
from perceptual_compression.assets import resolver as resolve_mod
from perceptual_compression.assets.__main__ import main as cli_main
from _shared_data import SHARED, needs_shared

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------------------------------
# helpers


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.exists() else []


@pytest.fixture
def fake_repo(tmp_path, monkeypatch):
    """A repository root with its own registry; env dir, config dir, cache and torch hub all under tmp."""
    root = tmp_path / "repo"
    (root / "data").mkdir(parents=True)
    env_dir, cfg_dir, hub = tmp_path / "envdata", tmp_path / "shared", tmp_path / "torchhome"
    for d in (env_dir, cfg_dir, hub):
        d.mkdir()
    (root / "data" / "config.toml").write_text('[local]\ndirs = ["../shared"]\n')
    monkeypatch.setenv("PERCEPTUAL_COMPRESSION_ROOT", str(root))
    monkeypatch.setenv("PERCEPTUAL_COMPRESSION_DATA", str(env_dir))
    monkeypatch.setenv("TORCH_HOME", str(hub))
    for var in ("PERCEPTUAL_COMPRESSION_CACHE", "PERCEPTUAL_COMPRESSION_OFFLINE", "PERCEPTUAL_COMPRESSION_ALLOW_UNVERIFIED"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(resolve_mod, "_unreachable", {})
    checksums_mod.clear_memo()
    resolve_mod._dir_memo.clear()

    class Repo:
        pass

    repo = Repo()
    repo.root, repo.env_dir, repo.cfg_dir, repo.cache = root, env_dir, cfg_dir, root / "data" / "cache"
    repo.src = tmp_path / "server"
    repo.src.mkdir()

    def write_registry(text: str) -> None:
        (root / "data" / "registry.toml").write_text(text)

    def publish(name: str, data: bytes) -> str:
        (repo.src / name).write_bytes(data)
        return (repo.src / name).as_uri()

    repo.write_registry, repo.publish = write_registry, publish
    return repo


def weights_entry(asset_id: str, url: str, checksum: str, size="unknown", extra: str = "") -> str:
    size_line = f"size = {size}" if isinstance(size, int) else 'size = "unknown"\nsize_note = "test"'
    return f"""
[{asset_id}]
kind = "weights"
title = "Test weights {asset_id}"
homepage = "https://example.invalid/"
license = "test licence"
citation = "test citation"
local = "weights/{asset_id}.pth"
used_by = ["tests"]
url = "{url}"
checksum = "{checksum}"
checksum_source = "test"
{size_line}
{extra}
"""


# --------------------------------------------------------------------------------------------------
# the real registry


def _expand(pattern: str) -> list[str]:
    """Expand `a-{1..3}` and `b-{x,y,1..2}` as written in docs/ARCHITECTURE.md."""
    m = re.search(r"\{([^}]*)\}", pattern)
    if not m:
        return [pattern]
    items: list[str] = []
    for part in m.group(1).split(","):
        if ".." in part:
            lo, hi = part.split("..")
            items += [str(i) for i in range(int(lo), int(hi) + 1)]
        else:
            items.append(part)
    return [x for item in items for x in _expand(pattern[: m.start()] + item + pattern[m.end():])]


def architecture_ids() -> list[str]:
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    table = text.split("### Asset ids")[1].split("```")[0]
    ids = []
    for line in table.splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            for pattern in re.findall(r"`([^`]+)`", first_cell):
                ids += _expand(pattern)
    return ids


def test_every_architecture_id_is_in_the_registry():
    ids = architecture_ids()
    assert len(ids) >= 42 and "neuralcompression-msillm-quality-vlo2" in ids and "compressai-mbt2018-mean-q8" in ids
    missing = sorted(set(ids) - set(registry()))
    assert not missing, f"ids in docs/ARCHITECTURE.md without a registry entry: {missing}"


def test_every_entry_has_url_checksum_size_and_licence():
    reg = registry()
    assert len(reg) >= 42
    for asset_id, a in reg.items():
        assert a.kind in ("dataset", "weights")
        assert a.title and a.homepage.startswith("http") and a.license and a.citation and a.used_by, asset_id
        assert a.files, asset_id
        for f in a.files:
            assert f.url.startswith(("http://", "https://")), (asset_id, f.url)
            assert f.checksum.kind in ("sha256", "md5", "sha1", "sha256_prefix", "unknown"), asset_id
            assert f.checksum_source, asset_id
            assert f.size is None or f.size > 0, asset_id
            if f.size is None:
                assert f.size_note, f"{asset_id}: unknown size needs a reason"
        if a.kind == "weights":
            assert len(a.files) == 1 and a.local.startswith("weights/"), asset_id


def test_registry_checksums_match_their_sources():
    # torch.hub-style names carry the SHA-256 prefix; CLIP's URL carries the full SHA-256.
    for asset_id, a in registry().items():
        f = a.files[0]
        if f.checksum.kind == "sha256_prefix":
            assert f"-{f.checksum.hexdigest}." in f.url, asset_id
    clip = asset_info("clip-vit-b32")
    assert clip.checksum.kind == "sha256" and clip.checksum.hexdigest in clip.url
    # MNIST: official SHA-256 (TFDS) for downloads; the shared repack of train-images accepted locally only
    mnist = {f.name: f for f in asset_info("mnist").files}
    assert mnist["train-images-idx3-ubyte.gz"].size == 9912422
    assert mnist["train-images-idx3-ubyte.gz"].local_sha256 and not mnist["t10k-images-idx3-ubyte.gz"].local_sha256
    # Kodak: no per-file checksum published, NeuralCompression's combined SHA-1 instead
    kodak = asset_info("kodak")
    assert [f.name for f in kodak.files] == [f"kodim{i:02d}.png" for i in range(1, 25)]
    assert kodak.combined_checksum.kind == "sha1" and kodak.verifiable
    # assets with nothing published are marked as such, never invented
    for asset_id in ("tid2013", "bapps-2afc-val", "neuralcompression-msillm-quality-3"):
        assert not asset_info(asset_id).verifiable


def test_registry_local_sha256_agree_with_the_shared_manifest():
    manifest = SHARED / "MANIFEST.tsv"
    if not manifest.is_file():
        pytest.skip(f"shared data directory not present ({manifest})")
    recorded = {line.split("\t")[0]: line.split("\t")[2] for line in manifest.read_text().splitlines() if line}
    for asset_id in ("kodak", "mnist"):
        for f in asset_info(asset_id).files:
            sha = recorded[f"{asset_id}/{f.name}"]
            assert sha in f.local_sha256 or (f.checksum.kind == "sha256" and f.checksum.hexdigest == sha), f.name


@pytest.mark.parametrize(
    "mutation, message",
    [
        (lambda t: t.replace('license = "test licence"\n', ""), "missing key 'license'"),
        (lambda t: t.replace('checksum = "sha256:' + "0" * 64 + '"', 'checksum = "sha256:abc"'), "64 hex digits"),
        (lambda t: t.replace('checksum = "sha256:' + "0" * 64 + '"', 'checksum = "crc32:00"'), "kind in"),
        (lambda t: t + 'licence = "typo"\n', "unknown key"),
        (lambda t: t.replace('size = "unknown"\nsize_note = "test"', 'size = "unknown"'), "size_note"),
        (lambda t: t.replace('url = "https://example.invalid/w.pth"', 'url = "ftp://x"'), "url must be"),
    ],
)
def test_malformed_entries_are_rejected_with_the_entry_named(tmp_path, mutation, message):
    text = mutation(weights_entry("bad-entry", "https://example.invalid/w.pth", "sha256:" + "0" * 64))
    path = tmp_path / "registry.toml"
    path.write_text(text)
    with pytest.raises(RegistryError, match=re.escape(message)) as info:
        load_registry(path)
    assert "[bad-entry]" in str(info.value)


def test_unknown_id_suggests_close_matches():
    with pytest.raises(KeyError, match="torchvision-alexnet"):
        asset_info("torchvision-alexnett")


# --------------------------------------------------------------------------------------------------
# downloads


def test_download_verifies_and_then_hits_the_cache(fake_repo):
    payload = b"weights" * 1000
    url = fake_repo.publish("w.pth", payload)
    fake_repo.write_registry(weights_entry("w", url, f"sha256:{sha256(payload)}", size=len(payload)))
    r = locate("w")
    assert r.source == "download" and r.verified
    assert r.path == fake_repo.cache / "weights" / "w.pth" and r.path.read_bytes() == payload
    assert files_under(fake_repo.cache) == [r.path]  # nothing else left behind
    (fake_repo.src / "w.pth").unlink()  # a second resolve must not need the network
    r2 = locate("w", download=False)
    assert r2.source == "cache" and r2.verified and r2.path == r.path


def test_sha256_prefix_checksums_are_enforced(fake_repo):
    payload = b"hub-named file"
    good, bad = sha256(payload)[:8], ("0" if sha256(payload)[0] != "0" else "1") + sha256(payload)[1:8]
    url = fake_repo.publish("w.pth", payload)
    fake_repo.write_registry(weights_entry("good", url, f"sha256_prefix:{good}") + weights_entry("bad", url, f"sha256_prefix:{bad}"))
    assert resolve("good").read_bytes() == payload
    with pytest.raises(ChecksumError):
        resolve("bad")


def test_checksum_mismatch_raises_and_leaves_no_file(fake_repo):
    url = fake_repo.publish("w.pth", b"tampered bytes")
    fake_repo.write_registry(weights_entry("w", url, f"sha256:{sha256(b'original bytes')}"))
    with pytest.raises(ChecksumError) as info:
        resolve("w")
    msg = str(info.value)
    assert isinstance(info.value, AssetUnavailableError) and isinstance(info.value, FileNotFoundError)
    assert "\n" not in msg and "checksum mismatch" in msg and "deleted" in msg and sha256(b"tampered bytes") in msg
    assert files_under(fake_repo.cache) == []


def test_size_mismatch_is_a_checksum_error(fake_repo):
    payload = b"0123456789"
    url = fake_repo.publish("w.pth", payload)
    fake_repo.write_registry(weights_entry("w", url, f"sha256:{sha256(payload)}", size=11))
    with pytest.raises(ChecksumError, match="size mismatch"):
        resolve("w")
    assert files_under(fake_repo.cache) == []


class _Handler(http.server.BaseHTTPRequestHandler):
    payload = b""

    def do_GET(self):  # noqa: N802 - http.server API
        data = type(self).payload
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.path == "/drop":  # send half, then drop the connection
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
        else:
            self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    _Handler.payload = bytes(range(256)) * 4096  # 1 MiB
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Handler.payload
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_http_download_with_progress_bar(fake_repo, http_server):
    base, payload = http_server
    fake_repo.write_registry(weights_entry("w", f"{base}/good", f"sha256:{sha256(payload)}", size=len(payload)))
    path = resolve("w", progress=True)
    assert path.read_bytes() == payload


def test_dropped_connection_leaves_no_partial_file(fake_repo, http_server):
    base, payload = http_server
    fake_repo.write_registry(weights_entry("w", f"{base}/drop", f"sha256:{sha256(payload)}", size=len(payload)))
    t0 = time.perf_counter()
    with pytest.raises(AssetUnavailableError) as info:
        resolve("w")
    assert time.perf_counter() - t0 < 10
    assert not isinstance(info.value, ChecksumError)
    assert re.search(r"interrupted|closed after", str(info.value)), str(info.value)
    assert files_under(fake_repo.cache) == []  # no .part file, no final file


def test_interrupt_during_download_leaves_no_partial_file(fake_repo, monkeypatch):
    payload = b"x" * (3 << 20)
    url = fake_repo.publish("w.pth", payload)
    fake_repo.write_registry(weights_entry("w", url, f"sha256:{sha256(payload)}"))
    real_urlopen = resolve_mod.urllib.request.urlopen

    def urlopen(*args, **kwargs):
        response = real_urlopen(*args, **kwargs)
        real_read, calls = response.read, []

        def read(n=-1):
            calls.append(n)
            if len(calls) == 2:
                raise KeyboardInterrupt
            return real_read(n)

        response.read = read
        return response

    monkeypatch.setattr(resolve_mod.urllib.request, "urlopen", urlopen)
    with pytest.raises(KeyboardInterrupt):
        resolve("w")
    assert files_under(fake_repo.cache) == []


# --------------------------------------------------------------------------------------------------
# resolution order, offline switch, messages


def test_resolution_order_env_dir_then_config_dir_then_cache(fake_repo):
    payload = b"same weights everywhere"
    fake_repo.write_registry(weights_entry("w", "https://example.invalid/w.pth", f"sha256:{sha256(payload)}"))
    places = {
        "env": fake_repo.env_dir / "weights" / "w.pth",
        "config": fake_repo.cfg_dir / "weights" / "w.pth",
        "cache": fake_repo.cache / "weights" / "w.pth",
    }
    for p in places.values():
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(payload)
    r = locate("w", download=False)
    assert r.path == places["env"] and r.source == "local" and "PERCEPTUAL_COMPRESSION_DATA" in r.location
    places["env"].unlink()
    r = locate("w", download=False)
    assert r.path == places["config"] and "config.toml" in r.location
    places["config"].unlink()
    r = locate("w", download=False)
    assert r.path == places["cache"] and r.source == "cache"


def test_a_corrupt_local_copy_is_skipped_and_reported(fake_repo):
    payload = b"good bytes"
    url = fake_repo.publish("w.pth", payload)
    fake_repo.write_registry(weights_entry("w", url, f"sha256:{sha256(payload)}"))
    bad = fake_repo.env_dir / "weights" / "w.pth"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"bad bytes")
    assert locate("w").source == "download"  # the corrupt copy is not used
    assert bad.read_bytes() == b"bad bytes"  # and a user's file is never modified
    (fake_repo.cache / "weights" / "w.pth").unlink()
    with pytest.raises(ChecksumError, match=re.escape(f"{bad} (rejected")):
        resolve("w", download=False)


def test_offline_switch_disables_downloads(fake_repo, monkeypatch):
    payload = b"downloadable"
    url = fake_repo.publish("w.pth", payload)
    fake_repo.write_registry(weights_entry("w", url, f"sha256:{sha256(payload)}"))
    monkeypatch.setenv("PERCEPTUAL_COMPRESSION_OFFLINE", "1")
    with pytest.raises(AssetUnavailableError, match="PERCEPTUAL_COMPRESSION_OFFLINE=1"):
        resolve("w")
    assert files_under(fake_repo.cache) == []
    assert resolve("w", download=True).read_bytes() == payload  # an explicit request overrides the switch
    (fake_repo.cache / "weights" / "w.pth").unlink()
    monkeypatch.delenv("PERCEPTUAL_COMPRESSION_OFFLINE")
    with pytest.raises(AssetUnavailableError, match="download skipped: download=False"):
        resolve("w", download=False)
    assert resolve("w").read_bytes() == payload  # switch unset: downloads are on by default


def test_missing_asset_message_is_one_line_and_names_every_place(fake_repo):
    fake_repo.write_registry(weights_entry("w", "https://example.invalid/w.pth", "sha256:" + "2" * 64))
    with pytest.raises(AssetUnavailableError) as info:
        resolve("w", download=False)
    msg = str(info.value)
    assert "\n" not in msg and info.value.asset_id == "w"
    assert "'w' (Test weights w)" in msg
    for place in (fake_repo.env_dir / "weights" / "w.pth", fake_repo.cfg_dir / "weights" / "w.pth",
                  fake_repo.cache / "weights" / "w.pth"):
        assert str(place) in msg
    assert "torch.hub checkpoints" in msg
    assert "https://example.invalid/w.pth" in msg  # how to provide it: the URL ...
    assert f"place it at {fake_repo.env_dir}/weights/w.pth" in msg  # ... where to put it ...
    assert "PERCEPTUAL_COMPRESSION_DATA" in msg and "python -m perceptual_compression.assets fetch w" in msg


def test_unreachable_host_fails_fast_and_names_the_url(fake_repo):
    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/w.pth"
    fake_repo.write_registry(weights_entry("w", url, "sha256:" + "3" * 64) + weights_entry("v", url, "sha256:" + "4" * 64))
    t0 = time.perf_counter()
    with pytest.raises(AssetUnavailableError) as info:
        resolve("w")
    assert f"download {url} (failed:" in str(info.value)
    with pytest.raises(AssetUnavailableError, match="could not be reached earlier"):
        resolve("v")  # the same host is not retried within the process
    assert time.perf_counter() - t0 < 5


def test_unverifiable_download_needs_opt_in_and_records_its_digest(fake_repo, monkeypatch):
    payload = b"no checksum published for these bytes"
    url = fake_repo.publish("w.pth", payload)
    fake_repo.write_registry(weights_entry("w", url, "unknown"))
    with pytest.raises(AssetUnavailableError, match="download refused: no published checksum") as info:
        resolve("w")
    assert "fetch w --allow-unverified" in str(info.value)
    assert files_under(fake_repo.cache) == []
    r = locate("w", allow_unverified=True)
    assert r.source == "download" and not r.verified and r.path.read_bytes() == payload
    sidecar = r.path.with_name("w.pth.sha256")
    assert sidecar.read_text().strip() == sha256(payload)
    assert locate("w", download=False).verified  # later cache hits are checked against the recorded digest
    r.path.write_bytes(b"changed on disk")
    with pytest.raises(ChecksumError, match="recorded at download"):
        resolve("w", download=False)
    monkeypatch.setenv("PERCEPTUAL_COMPRESSION_ALLOW_UNVERIFIED", "1")  # the environment switch also opts in
    assert resolve("w").read_bytes() == payload


def test_local_copy_without_published_checksum_is_accepted_as_unverified(fake_repo):
    fake_repo.write_registry(weights_entry("w", "https://example.invalid/w.pth", "unknown"))
    p = fake_repo.cfg_dir / "weights" / "w.pth"
    p.parent.mkdir(parents=True)
    p.write_bytes(b"placed by the user")
    r = locate("w", download=False)
    assert r.path == p and not r.verified and "unverified" in r.describe()


def test_weights_are_found_in_the_torch_hub_cache(fake_repo, tmp_path):
    payload = b"from torch hub"
    fake_repo.write_registry(weights_entry("w", "https://example.invalid/w.pth", f"sha256:{sha256(payload)}"))
    p = tmp_path / "torchhome" / "hub" / "checkpoints" / "w.pth"
    p.parent.mkdir(parents=True)
    p.write_bytes(payload)
    r = locate("w", download=False)
    assert r.path == p and r.verified and r.location == "torch.hub checkpoints"


# --------------------------------------------------------------------------------------------------
# datasets: several files, combined checksums, local repacks, archives


def dataset_entry(asset_id: str, files: list[tuple[str, str, str]], extra: str = "", file_extra: dict | None = None) -> str:
    text = f"""
[{asset_id}]
kind = "dataset"
title = "Test dataset {asset_id}"
homepage = "https://example.invalid/"
license = "test licence"
citation = "test citation"
local = "{asset_id}"
used_by = ["tests"]
checksum_source = "test"
size_note = "test"
{extra}
"""
    for name, url, checksum in files:
        text += f'\n[[{asset_id}.files]]\nname = "{name}"\nurl = "{url}"\nchecksum = "{checksum}"\nsize = "unknown"\n'
        text += (file_extra or {}).get(name, "")
    return text


def test_multi_file_dataset_with_combined_checksum(fake_repo):
    parts = {f"part{i}.bin": bytes([i]) * (1000 + i) for i in range(3)}
    urls = {n: fake_repo.publish(n, d) for n, d in parts.items()}
    combined = hashlib.sha1(b"".join(parts.values())).hexdigest()
    entry = dataset_entry("ds", [(n, urls[n], "unknown") for n in parts],
                          extra=f'combined_checksum = "sha1:{combined}"\ncombined_checksum_source = "test"')
    wrong = dataset_entry("ds-wrong", [(n, urls[n], "unknown") for n in parts],
                          extra=f'combined_checksum = "sha1:{"0" * 40}"\ncombined_checksum_source = "test"')
    fake_repo.write_registry(entry + wrong)
    r = locate("ds")
    assert r.verified and r.path == fake_repo.cache / "ds"
    assert {p.name: p.read_bytes() for p in r.path.iterdir()} == parts
    with pytest.raises(ChecksumError, match="combined sha1 mismatch"):
        resolve("ds-wrong")
    assert not (fake_repo.cache / "ds-wrong").exists()
    assert not any(p.name.endswith(".part") for p in fake_repo.cache.iterdir())


def test_incomplete_local_dataset_is_reported(fake_repo):
    data = {"a.bin": b"a", "b.bin": b"b"}
    fake_repo.write_registry(dataset_entry("ds", [(n, f"https://example.invalid/{n}", f"sha256:{sha256(d)}") for n, d in data.items()]))
    (fake_repo.env_dir / "ds").mkdir()
    (fake_repo.env_dir / "ds" / "a.bin").write_bytes(b"a")
    with pytest.raises(AssetUnavailableError, match=r"ds \(incomplete: missing b.bin\)"):
        resolve("ds", download=False)
    (fake_repo.env_dir / "ds" / "b.bin").write_bytes(b"b")
    assert locate("ds", download=False).verified


def test_local_sha256_accepts_a_documented_repack_locally_but_not_as_a_download(fake_repo):
    official, repack = b"official gzip bytes", b"repacked gzip bytes"
    url = fake_repo.publish("f.gz", repack)  # a server handing out the repack is not the official file
    extra = {"f.gz": f'local_sha256 = "{sha256(repack)}"\n'}
    fake_repo.write_registry(dataset_entry("ds", [("f.gz", url, f"sha256:{sha256(official)}")], file_extra=extra))
    with pytest.raises(ChecksumError):
        resolve("ds")
    (fake_repo.cfg_dir / "ds").mkdir()
    (fake_repo.cfg_dir / "ds" / "f.gz").write_bytes(repack)
    r = locate("ds", download=False)
    assert r.verified and r.path == fake_repo.cfg_dir / "ds"


def _tar_gz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_archives_are_verified_extracted_and_marked_complete(fake_repo):
    tgz = _tar_gz({"val/a.png": b"A", "val/b.png": b"B"})
    zp = _zip({"img/c.png": b"C"})
    entry = dataset_entry("arch", [("one.tar.gz", fake_repo.publish("one.tar.gz", tgz), f"sha256:{sha256(tgz)}"),
                                   ("two.zip", fake_repo.publish("two.zip", zp), f"sha256:{sha256(zp)}")],
                          file_extra={"one.tar.gz": 'archive = "tar.gz"\n', "two.zip": 'archive = "zip"\nextract_to = "second"\n'})
    fake_repo.write_registry(entry)
    r = locate("arch")
    assert r.verified and r.path == fake_repo.cache / "arch"
    assert (r.path / "val" / "a.png").read_bytes() == b"A" and (r.path / "second" / "img" / "c.png").read_bytes() == b"C"
    assert (r.path / ".complete.json").is_file()
    assert files_under(fake_repo.cache / "downloads") == []  # archives are removed after extraction
    (fake_repo.src / "one.tar.gz").unlink()
    assert locate("arch", download=False).source == "cache"


def test_rar_without_an_extraction_tool_keeps_the_verified_archive(fake_repo, monkeypatch):
    fake_rar = b"Rar!\x1a\x07\x00 not really a rar"
    entry = dataset_entry("r", [("x.rar", fake_repo.publish("x.rar", fake_rar), f"sha256:{sha256(fake_rar)}")],
                          file_extra={"x.rar": 'archive = "rar"\n'})
    fake_repo.write_registry(entry)
    monkeypatch.setattr(resolve_mod.shutil, "which", lambda name: None)
    with pytest.raises(AssetUnavailableError, match="needs one of unrar, unar, 7z or bsdtar") as info:
        resolve("r")
    assert "\n" not in str(info.value)
    assert files_under(fake_repo.cache) == [fake_repo.cache / "downloads" / "r" / "x.rar"]
    assert not (fake_repo.cache / "r").exists()


def test_an_archive_placed_in_a_data_dir_is_used_offline(fake_repo, monkeypatch):
    tgz = _tar_gz({"val/a.png": b"A"})
    entry = dataset_entry("arch", [("one.tar.gz", "https://example.invalid/one.tar.gz", f"sha256:{sha256(tgz)}")],
                          file_extra={"one.tar.gz": 'archive = "tar.gz"\n'})
    fake_repo.write_registry(entry)
    (fake_repo.cfg_dir / "one.tar.gz").write_bytes(tgz)
    monkeypatch.setenv("PERCEPTUAL_COMPRESSION_OFFLINE", "1")
    r = locate("arch")
    assert r.verified and (r.path / "val" / "a.png").read_bytes() == b"A"
    assert (fake_repo.cfg_dir / "one.tar.gz").is_file()  # a user's archive is never deleted


def test_hand_extracted_archive_dataset_needs_its_expected_contents(fake_repo):
    entry = dataset_entry("arch", [("one.zip", "https://example.invalid/one.zip", "sha256:" + "5" * 64)],
                          extra='expect_glob = "**/*.png"\nexpect_count = 2', file_extra={"one.zip": 'archive = "zip"\n'})
    fake_repo.write_registry(entry)
    d = fake_repo.env_dir / "arch" / "sub"
    d.mkdir(parents=True)
    (d / "1.png").write_bytes(b"1")
    with pytest.raises(AssetUnavailableError, match="expected at least 2 files"):
        resolve("arch", download=False)
    (d / "2.png").write_bytes(b"2")
    r = locate("arch", download=False)
    assert r.path == fake_repo.env_dir / "arch" and not r.verified


# --------------------------------------------------------------------------------------------------
# the real registry on this machine


@pytest.fixture
def offline_real_registry(tmp_path, monkeypatch):
    """The project's registry, with no local data, an empty cache and downloads off."""
    monkeypatch.setenv("PERCEPTUAL_COMPRESSION_OFFLINE", "1")
    monkeypatch.setenv("PERCEPTUAL_COMPRESSION_DATA", str(tmp_path / "nodata"))
    monkeypatch.setenv("PERCEPTUAL_COMPRESSION_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    root = tmp_path / "repo"
    (root / "data").mkdir(parents=True)
    shutil.copy(ROOT / "data" / "registry.toml", root / "data" / "registry.toml")
    (root / "data" / "config.toml").write_text("[local]\ndirs = []\n")
    monkeypatch.setenv("PERCEPTUAL_COMPRESSION_ROOT", str(root))


@pytest.mark.parametrize("asset_id", ["torchvision-alexnet", "neuralcompression-msillm-quality-3", "kodak", "tid2013"])
def test_real_assets_missing_here_fail_fast_with_a_useful_message(offline_real_registry, asset_id):
    t0 = time.perf_counter()
    with pytest.raises(AssetUnavailableError) as info:
        resolve(asset_id)
    assert time.perf_counter() - t0 < 5
    msg = str(info.value)
    assert "\n" not in msg and repr(asset_id) in msg and asset_info(asset_id).title in msg
    assert asset_info(asset_id).files[0].url in msg and "fetch" in msg


@pytest.mark.parametrize("asset_id", ["kodak", "mnist"])
def test_shared_kodak_and_mnist_resolve_verified(asset_id):
    needs_shared(asset_id)
    r = locate(asset_id, download=False)
    assert r.source == "local" and r.verified and r.path.resolve() == (SHARED / asset_id).resolve()


def test_repeated_verification_is_memoized(monkeypatch):
    needs_shared("kodak")
    locate("kodak", download=False)
    calls = []
    real_new = checksums_mod.hashlib.new
    monkeypatch.setattr(checksums_mod.hashlib, "new", lambda *a, **k: calls.append(a) or real_new(*a, **k))
    t0 = time.perf_counter()
    locate("kodak", download=False)
    locate("mnist", download=False)
    locate("mnist", download=False)
    assert time.perf_counter() - t0 < 1.0
    assert len(calls) <= 4  # at most MNIST's first hashing; Kodak is not hashed again


def test_cli_list_where_fetch(offline_real_registry, capsys):
    assert cli_main(["list"]) == 0
    out = capsys.readouterr().out
    assert "torchvision-alexnet" in out and "clip-vit-b32" in out and "missing" in out
    assert cli_main(["where", "torchvision-vgg16"]) == 1
    out = capsys.readouterr().out
    assert "download https://download.pytorch.org/models/vgg16-397923af.pth [sha256_prefix:397923af" in out
    assert cli_main(["fetch", "clip-vit-b32"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("Asset 'clip-vit-b32'") and "\n" not in err
    assert cli_main(["where", "no-such-asset"]) == 2


def test_cli_list_reports_shared_data_as_found_locally(capsys):
    needs_shared("kodak")
    assert cli_main(["list"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert "found locally (verified)" in lines["kodak"] and "found locally (verified)" in lines["mnist"]


def test_relative_env_data_dir_is_relative_to_the_repository_root(fake_repo, monkeypatch, tmp_path):
    payload = b"relative"
    fake_repo.write_registry(weights_entry("w", "https://example.invalid/w.pth", f"sha256:{sha256(payload)}"))
    p = tmp_path / "reldata" / "weights" / "w.pth"
    p.parent.mkdir(parents=True)
    p.write_bytes(payload)
    monkeypatch.setenv("PERCEPTUAL_COMPRESSION_DATA", "../reldata")
    monkeypatch.chdir(fake_repo.cache.parent)  # somewhere else, as a notebook running in book/ would be
    assert locate("w", download=False).path == p
