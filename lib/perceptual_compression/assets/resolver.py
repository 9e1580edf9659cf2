"""Resolve an asset id to a verified local path: local directories, then the cache, then a download.

Resolution order (first usable copy wins):

1. local data directories — ``$PERCEPTUAL_COMPRESSION_DATA``, then ``data/config.toml``'s ``dirs``
   (and, for weights, torch.hub's checkpoint directory): ``<dir>/<local>``;
2. the cache ``paths.cache_dir()/<local>``;
3. a download from the official URL (then mirrors), unless downloads are disabled
   (``download=False`` or ``PERCEPTUAL_COMPRESSION_OFFLINE=1``).

Verification. Every file found locally or in the cache is checked against the registry: its checksum
(or, for documented repacks, one of its ``local_sha256`` values; for Kodak the combined SHA-1 that
NeuralCompression publishes). Digests are memoized per process, so repeated calls cost a few
``stat`` calls. A copy that fails verification is skipped (and named in the error if nothing else
works). Files with no published checksum are accepted when *you* placed them locally (reported as
"unverified"), but are never downloaded unless you opt in with ``allow_unverified=True``,
``PERCEPTUAL_COMPRESSION_ALLOW_UNVERIFIED=1`` or ``fetch --allow-unverified``; such a download records
its SHA-256 next to the file (``<file>.sha256``) and later cache hits are checked against it.

Downloads stream into a temporary file in the destination's directory with a tqdm progress bar
(hashing on the fly), are checked for size and checksum, and only then renamed into place
(``os.replace``), so no partial or unverified file ever appears under its final name. Multi-file
datasets are assembled in a temporary directory that is renamed at the end. Archives (zip, tar,
tar.gz; rar with an external tool) are kept in ``<cache>/downloads/`` once verified, extracted into a
temporary directory, marked complete, renamed into place, and then deleted. A connection error to a
host is remembered for the rest of the process so that an offline machine answers in milliseconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterator

from .. import paths
from .checksums import combined_digest, file_digest
from .errors import AssetUnavailableError, ChecksumError
from .locations import (
    ENV_ALLOW_UNVERIFIED,
    ENV_OFFLINE,
    env_flag,
    local_dirs,
    offline,
    progress_enabled,
    timeout_seconds,
    torch_hub_checkpoints,
)
from .registry import Asset, AssetFile, asset_info

COMPLETE_MARKER = ".complete.json"
DOWNLOADS = "downloads"
_USER_AGENT = "perceptual-compression-book/0.1 (+asset registry)"
_CHUNK = 1 << 20


# --------------------------------------------------------------------------------------------------
# results of looking at one place


@dataclass(frozen=True)
class Probe:
    """What one location holds for an asset.

    ``status`` is ``verified`` (checksums match), ``unverified`` (present, nothing published to check
    against), ``missing``, ``incomplete`` (some files absent) or ``rejected`` (checksum/size mismatch).
    """

    location: str
    path: Path
    status: str
    detail: str = ""

    @property
    def usable(self) -> bool:
        return self.status in ("verified", "unverified")

    @property
    def mismatch(self) -> bool:
        return self.status == "rejected"

    def describe(self) -> str:
        text = f"{self.location} {self.path} ({self.status}"
        return text + (f": {self.detail})" if self.detail else ")")


@dataclass(frozen=True)
class Resolution:
    """Where :func:`locate` found an asset: ``source`` is ``local``, ``cache`` or ``download``."""

    asset: Asset
    path: Path
    source: str
    location: str
    verified: bool
    detail: str = ""

    def describe(self) -> str:
        check = "verified" if self.verified else f"unverified: {self.detail or 'no published checksum'}"
        return f"{self.location} {self.path} ({check})"


# --------------------------------------------------------------------------------------------------
# checking files


def _check_file(f: AssetFile, path: Path, *, tofu: bool = False) -> tuple[bool | None, str]:
    """``(True, how)`` verified, ``(None, why)`` present but unverifiable, ``(False, why)`` mismatch."""
    size = path.stat().st_size
    if f.size is not None and size != f.size and not f.local_sha256:  # reject without hashing
        return False, f"{f.name}: size mismatch (expected {f.size} bytes, got {size})"
    if f.checksum.known:
        digest = file_digest(path, f.checksum.algorithm)  # type: ignore[arg-type]
        if f.checksum.matches(digest):
            return True, f"{f.checksum.kind} ok"
    if f.local_sha256:
        sha = file_digest(path, "sha256")
        if sha in f.local_sha256:
            return True, "sha256 matches the registry's local_sha256 (documented repack)"
    if f.checksum.known:
        accepted = str(f.checksum) + "".join(f" or sha256:{h}" for h in f.local_sha256)
        got = file_digest(path, f.checksum.algorithm)  # type: ignore[arg-type]
        return False, f"{f.name}: checksum mismatch (expected {accepted}, got {f.checksum.algorithm}:{got})"
    if f.size is not None and size != f.size:
        return False, f"{f.name}: size mismatch (expected {f.size} bytes, got {size})"
    if tofu:
        sidecar = path.with_name(path.name + ".sha256")
        if sidecar.is_file():
            recorded = sidecar.read_text().split()[0].strip().lower()
            if file_digest(path, "sha256") == recorded:
                return True, "sha256 matches the digest recorded at its (opted-in) download"
            return False, f"{f.name}: sha256 differs from the digest recorded at download ({sidecar.name})"
    if f.local_sha256:
        return None, "not the registry's recorded local copy, and no per-file checksum is published"
    return None, "no published checksum"


_dir_memo: dict[tuple, tuple[str, str]] = {}


def _probe_files(asset: Asset, root: Path, location: str, *, tofu: bool) -> Probe:
    """Check a weights file or a dataset directory of individual files."""
    if asset.kind == "weights":
        target = root
        if not target.is_file():
            return Probe(location, target, "missing")
        ok, how = _check_file(asset.files[0], target, tofu=tofu)
        status = {True: "verified", None: "unverified", False: "rejected"}[ok]
        return Probe(location, target, status, how)

    if not root.is_dir():
        return Probe(location, root, "missing")
    present = [root / f.name for f in asset.files]
    absent = [f.name for f, p in zip(asset.files, present) if not p.is_file()]
    if absent:
        shown = ", ".join(absent[:3]) + (f" and {len(absent) - 3} more" if len(absent) > 3 else "")
        return Probe(location, root, "incomplete", f"missing {shown}")
    key = (asset.id, str(root.resolve()), tuple((p.stat().st_size, p.stat().st_mtime_ns, p.stat().st_ino) for p in present))
    if key in _dir_memo:
        status, detail = _dir_memo[key]
        return Probe(location, root, status, detail)
    results = [_check_file(f, p) for f, p in zip(asset.files, present)]
    bad = [why for ok, why in results if ok is False]
    if bad:
        status, detail = "rejected", bad[0] + (f" (+{len(bad) - 1} more)" if len(bad) > 1 else "")
    elif all(ok for ok, _ in results):
        status, detail = "verified", "every file's checksum matches"
    elif asset.combined_checksum is not None and asset.combined_checksum.known:
        c = asset.combined_checksum
        digest = combined_digest(present, c.algorithm)  # type: ignore[arg-type]
        if c.matches(digest):
            status, detail = "verified", f"combined {c.kind} of the {len(present)} files matches"
        else:
            status, detail = "rejected", f"combined {c.kind} mismatch (expected {c.hexdigest}, got {digest})"
    else:
        status, detail = "unverified", "no published checksum"
    _dir_memo[key] = (status, detail)
    return Probe(location, root, status, detail)


def _probe_extracted(asset: Asset, root: Path, location: str) -> Probe:
    """Check a directory holding an archive dataset's extracted contents."""
    if not root.is_dir():
        return Probe(location, root, "missing")
    marker = root / COMPLETE_MARKER
    if marker.is_file():
        try:
            info = json.loads(marker.read_text())
        except (OSError, ValueError):
            info = {}
        if info.get("asset") == asset.id:
            how = "verified archives" if info.get("verified") else "archives with no published checksum"
            return Probe(location, root, "verified" if info.get("verified") else "unverified", f"extracted from {how}")
    if asset.expect_glob:
        found = sum(1 for p in root.glob(asset.expect_glob) if p.is_file())
        need = asset.expect_count or 1
        if found < need:
            return Probe(location, root, "incomplete", f"expected at least {need} files matching {asset.expect_glob}, found {found}")
        return Probe(location, root, "unverified", f"{found} files match {asset.expect_glob}; extracted contents carry no checksum")
    if not any(root.iterdir()):
        return Probe(location, root, "incomplete", "directory is empty")
    return Probe(location, root, "unverified", "placed by hand; extracted contents carry no checksum")


def _probe(asset: Asset, root: Path, location: str, *, tofu: bool = False) -> Probe:
    if asset.kind == "dataset" and asset.is_archive:
        return _probe_extracted(asset, root, location)
    return _probe_files(asset, root, location, tofu=tofu)


def _local_candidates(asset: Asset) -> Iterator[tuple[str, Path]]:
    for label, d in local_dirs():
        yield f"local data directory ({label})", d / asset.local
    if asset.kind == "weights":
        hub = torch_hub_checkpoints()
        if hub is not None:
            yield "torch.hub checkpoints", hub / PurePosixPath(asset.local).name


def cache_path(asset: Asset) -> Path:
    """Where the cache keeps (or would keep) the asset."""
    return paths.cache_dir() / asset.local


def probes(asset_id: str) -> list[Probe]:
    """Every local place and the cache, each with what it holds (no download)."""
    asset = asset_info(asset_id)
    out = [_probe(asset, path, loc) for loc, path in _local_candidates(asset)]
    out.append(_probe(asset, cache_path(asset), "cache", tofu=True))
    return out


# --------------------------------------------------------------------------------------------------
# downloading


class _TransferError(Exception):
    """A URL could not be fetched (reason in the message)."""


class _MismatchError(Exception):
    """Fetched bytes failed verification (reason in the message)."""


class _RefusedError(Exception):
    """A download was not attempted (reason in the message)."""


_unreachable: dict[str, str] = {}


def clear_network_memo() -> None:
    """Forget hosts that failed to connect earlier in this process."""
    _unreachable.clear()


def _short(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    text = str(reason if reason is not None else exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:200]


def _fetch(url: str, dest: Path, *, total: int | None, algorithms: set[str], desc: str, progress: bool) -> dict[str, str]:
    """Stream ``url`` into ``dest`` (created/truncated); returns hex digests of the bytes received."""
    host = urllib.parse.urlparse(url).netloc
    if host and host in _unreachable:
        raise _TransferError(f"not retried: {host} could not be reached earlier in this process ({_unreachable[host]})")
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    try:
        response = urllib.request.urlopen(request, timeout=timeout_seconds())
    except urllib.error.HTTPError as exc:
        raise _TransferError(f"HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        if host:
            _unreachable[host] = _short(exc)
        raise _TransferError(_short(exc)) from None
    hashes = {a: hashlib.new(a) for a in algorithms}
    received = 0
    with response:
        length = response.headers.get("Content-Length")
        expected = int(length) if length and length.isdigit() else None
        from tqdm import tqdm  # plain text bar on stderr (no widget dependency in notebooks)

        bar = tqdm(total=expected or total, unit="B", unit_scale=True, unit_divisor=1024, desc=desc,
                   disable=not progress, leave=False)
        try:
            with open(dest, "wb") as out:
                while True:
                    try:
                        block = response.read(_CHUNK)
                    except Exception as exc:  # IncompleteRead, ConnectionResetError, timeout, ...
                        raise _TransferError(f"transfer interrupted after {received} bytes ({_short(exc)})") from None
                    if not block:
                        break
                    out.write(block)
                    for h in hashes.values():
                        h.update(block)
                    received += len(block)
                    bar.update(len(block))
        finally:
            bar.close()
    if expected is not None and received != expected:
        raise _TransferError(f"connection closed after {received} of {expected} bytes")
    return {a: h.hexdigest() for a, h in hashes.items()} | {"_size": str(received)}


def _verify_download(f: AssetFile, digests: dict[str, str]) -> None:
    size = int(digests["_size"])
    if f.size is not None and size != f.size:
        raise _MismatchError(f"{f.name}: size mismatch (expected {f.size} bytes, got {size})")
    if f.checksum.known and not f.checksum.matches(digests[f.checksum.algorithm]):  # type: ignore[index]
        raise _MismatchError(
            f"{f.name}: checksum mismatch (expected {f.checksum}, got {f.checksum.algorithm}:{digests[f.checksum.algorithm]})"  # type: ignore[index]
        )


def _download_file(f: AssetFile, dest: Path, *, desc: str, progress: bool, attempts: list[str]) -> dict[str, str]:
    """Fetch ``f`` from its URL or mirrors into ``dest`` atomically; raise on failure."""
    algorithms = {"sha256"} | ({f.checksum.algorithm} if f.checksum.known else set())  # type: ignore[arg-type]
    dest.parent.mkdir(parents=True, exist_ok=True)
    mismatches = []
    for url in f.urls:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            digests = _fetch(url, tmp, total=f.size, algorithms=algorithms, desc=desc, progress=progress)
            _verify_download(f, digests)
            os.replace(tmp, dest)
            return digests | {"_url": url}
        except _TransferError as exc:
            attempts.append(f"download {url} (failed: {exc})")
        except _MismatchError as exc:
            attempts.append(f"download {url} (rejected and deleted: {exc})")
            mismatches.append(str(exc))
        finally:
            tmp.unlink(missing_ok=True)
    raise (_MismatchError if mismatches else _TransferError)("; ".join(mismatches))


def _extract(archive: Path, fmt: str, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    if fmt == "zip":
        with zipfile.ZipFile(archive) as z:
            for name in z.namelist():
                p = PurePosixPath(name)
                if p.is_absolute() or ".." in p.parts:
                    raise _MismatchError(f"{archive.name}: unsafe member path {name!r}")
            z.extractall(dest)
    elif fmt in ("tar", "tar.gz", "tgz"):
        with tarfile.open(archive, "r:*") as t:
            if hasattr(tarfile, "data_filter"):
                t.extractall(dest, filter="data")
            else:  # pragma: no cover - Python < 3.11.4
                for m in t.getmembers():
                    p = PurePosixPath(m.name)
                    if p.is_absolute() or ".." in p.parts or m.issym() or m.islnk():
                        raise _MismatchError(f"{archive.name}: unsafe member {m.name!r}")
                t.extractall(dest)
    elif fmt == "rar":
        tools = {
            "unrar": ["unrar", "x", "-o+", "-idq", str(archive), str(dest) + os.sep],
            "unar": ["unar", "-q", "-f", "-o", str(dest), str(archive)],
            "7z": ["7z", "x", "-y", f"-o{dest}", str(archive)],
            "bsdtar": ["bsdtar", "-xf", str(archive), "-C", str(dest)],
        }
        for tool, cmd in tools.items():
            if shutil.which(tool):
                done = subprocess.run(cmd, capture_output=True, text=True)
                if done.returncode != 0:
                    raise _RefusedError(f"{tool} failed to extract {archive.name}: {done.stderr.strip()[:200]}")
                return
        raise _RefusedError(
            f"extracting {archive.name} (RAR) needs one of unrar, unar, 7z or bsdtar on PATH "
            f"(e.g. `apt-get install unar` or `conda install -c conda-forge libarchive`); the verified archive "
            f"is kept at {archive} so the next resolve extracts it without downloading again"
        )
    else:  # pragma: no cover - the registry validates formats
        raise _RefusedError(f"unsupported archive format {fmt!r}")


def _archive_copy(asset: Asset, f: AssetFile, *, download: bool, allow_unverified: bool, progress: bool,
                  attempts: list[str]) -> tuple[Path, bool, bool]:
    """A checked copy of archive ``f``: ``(path, verified, is_cache_download)``."""
    name = PurePosixPath(f.name).name
    candidates = [(f"local data directory ({label})", d / name) for label, d in local_dirs()]
    kept = paths.cache_dir() / DOWNLOADS / asset.id / f.name
    candidates.append(("cache downloads", kept))
    for loc, p in candidates:
        if not p.is_file():
            attempts.append(f"{loc} {p} (missing)")
            continue
        ok, why = _check_file(f, p, tofu=True)
        if ok is False:
            attempts.append(f"{loc} {p} (rejected: {why})")
            continue
        if ok is None and not allow_unverified and loc == "cache downloads":
            attempts.append(f"{loc} {p} (unverified; needs allow_unverified)")
            continue
        return p, bool(ok), loc == "cache downloads"
    if not download:
        raise _RefusedError(_no_download_reason())
    if not f.checksum.known and not allow_unverified:
        raise _RefusedError(_unverifiable_reason())
    digests = _download_file(f, kept, desc=f"{asset.id}: {name}", progress=progress, attempts=attempts)
    if not f.checksum.known:
        kept.with_name(kept.name + ".sha256").write_text(digests["sha256"] + "\n")
    state = "verified" if f.checksum.known else "unverified, sha256 recorded"
    attempts.append(f"download {digests['_url']} (ok, {state}, kept at {kept})")
    return kept, f.checksum.known, True


def _no_download_reason() -> str:
    if offline():
        return f"download skipped: {ENV_OFFLINE}=1"
    return "download skipped: download=False"


def _unverifiable_reason() -> str:
    return (
        "download refused: no published checksum to verify it against; opt in with allow_unverified=True, "
        f"{ENV_ALLOW_UNVERIFIED}=1 or `fetch --allow-unverified`"
    )


def _download_asset(asset: Asset, *, download: bool, allow_unverified: bool, progress: bool,
                    attempts: list[str]) -> tuple[Path, bool]:
    """Download (and extract) into the cache; returns ``(path, verified)``.

    Archive datasets are also assembled from archives already at hand (a local data directory or
    ``<cache>/downloads``) when ``download`` is False.
    """
    if not download and not asset.is_archive:
        raise _RefusedError(_no_download_reason())
    target = cache_path(asset)
    target.parent.mkdir(parents=True, exist_ok=True)

    if asset.kind == "weights":
        f = asset.files[0]
        if not f.checksum.known and not allow_unverified:
            raise _RefusedError(_unverifiable_reason())
        digests = _download_file(f, target, desc=asset.id, progress=progress, attempts=attempts)
        if not f.checksum.known:
            sidecar = target.with_name(target.name + ".sha256")
            tmp = sidecar.with_name(sidecar.name + ".part")
            tmp.write_text(digests["sha256"] + "\n")
            os.replace(tmp, sidecar)
        return target, f.checksum.known

    if not asset.verifiable and not allow_unverified and not asset.is_archive:
        raise _RefusedError(_unverifiable_reason())

    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
    try:
        if asset.is_archive:
            archives = []
            for f in asset.files:
                archives.append((f, *_archive_copy(asset, f, download=download, allow_unverified=allow_unverified,
                                                   progress=progress, attempts=attempts)))
            for f, path, _verified, _ in archives:
                try:
                    _extract(path, f.archive, staging / f.extract_to if f.extract_to else staging)  # type: ignore[arg-type]
                except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
                    attempts.append(f"extracting {path} (failed: {_short(exc)})")
                    raise _TransferError(str(exc)) from None
            n_files = sum(1 for p in staging.rglob("*") if p.is_file())
            verified = all(v for _, _, v, _ in archives)
            marker = {
                "asset": asset.id,
                "verified": verified,
                "archives": [{"name": f.name, "checksum": str(f.checksum), "path": str(p)} for f, p, _, _ in archives],
                "files": n_files,
                "extracted": time.strftime("%Y-%m-%dT%H:%M:%S"),
            }
            (staging / COMPLETE_MARKER).write_text(json.dumps(marker, indent=1))
        else:
            for i, f in enumerate(asset.files):
                _download_file(f, staging / f.name, desc=f"{asset.id} [{i + 1}/{len(asset.files)}] {f.name}",
                               progress=progress, attempts=attempts)
            if not all(f.checksum.known for f in asset.files) and asset.combined_checksum is not None:
                c = asset.combined_checksum
                digest = combined_digest([staging / f.name for f in asset.files], c.algorithm)  # type: ignore[arg-type]
                if not c.matches(digest):
                    attempts.append(f"download of {len(asset.files)} files (rejected and deleted: combined {c.kind} mismatch)")
                    raise _MismatchError(f"combined {c.kind} mismatch (expected {c.hexdigest}, got {digest})")
            verified = asset.verifiable
        try:
            os.rename(staging, target)
        except OSError:
            if not target.exists():
                raise
            # another process finished the same asset first: keep theirs
        if asset.is_archive:
            for _, path, _, from_cache in archives:
                if from_cache:
                    path.unlink(missing_ok=True)
                    path.with_name(path.name + ".sha256").unlink(missing_ok=True)
        return target, verified
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


# --------------------------------------------------------------------------------------------------
# the public entry points


def _how_to_provide(asset: Asset) -> str:
    dirs = local_dirs()
    first = str(dirs[0][1]) if dirs else f"${paths.ENV_DATA}"
    opt = " --allow-unverified" if not asset.verifiable else ""
    fetch = f"or run `python -m perceptual_compression.assets fetch {asset.id}{opt}` on a machine with network access"
    env = f"(any directory named by ${paths.ENV_DATA} or data/config.toml works)"
    if asset.kind == "weights":
        return f"To provide it: download {asset.url} and place it at {first}/{asset.local} {env}, {fetch}."
    if asset.is_archive:
        names = ", ".join(f.url for f in asset.files)
        return (
            f"To provide it: download {names} and extract into {first}/{asset.local}/ {env}, or put the archive "
            f"itself at {first}/<archive name> to have it verified and extracted into the cache, {fetch}."
        )
    n = len(asset.files)
    urls = asset.files[0].url + (f" … {asset.files[-1].url} ({n} files, listed in data/registry.toml)" if n > 1 else "")
    return f"To provide it: download {urls} into {first}/{asset.local}/ {env}, {fetch}."


def _unavailable(asset: Asset, attempts: list[str], *, mismatch: bool) -> AssetUnavailableError:
    where = "; ".join(attempts) if attempts else "no location configured"
    cls = ChecksumError if mismatch else AssetUnavailableError
    return cls(
        f"Asset {asset.id!r} ({asset.title}) is unavailable. Looked in: {where}. {_how_to_provide(asset)}",
        asset_id=asset.id,
    )


def locate(asset_id: str, *, download: bool | None = None, allow_unverified: bool | None = None,
           progress: bool | None = None) -> Resolution:
    """Like :func:`resolve`, but also says where the asset was found and whether it was verified."""
    asset = asset_info(asset_id)
    if download is None:
        download = not offline()
    if allow_unverified is None:
        allow_unverified = env_flag(ENV_ALLOW_UNVERIFIED)
    if progress is None:
        progress = progress_enabled()

    attempts: list[str] = []
    mismatch = False
    for loc, path in _local_candidates(asset):
        p = _probe(asset, path, loc)
        if p.usable:
            return Resolution(asset, p.path, "local", loc, p.status == "verified", p.detail)
        attempts.append(p.describe())
        mismatch |= p.mismatch
    p = _probe(asset, cache_path(asset), "cache", tofu=True)
    if p.usable:
        return Resolution(asset, p.path, "cache", "cache", p.status == "verified", p.detail)
    attempts.append(p.describe())
    mismatch |= p.mismatch

    try:
        path, verified = _download_asset(asset, download=download, allow_unverified=allow_unverified,
                                         progress=progress, attempts=attempts)
    except _RefusedError as exc:
        attempts.append(str(exc))
        raise _unavailable(asset, attempts, mismatch=mismatch) from None
    except _MismatchError:
        raise _unavailable(asset, attempts, mismatch=True) from None
    except _TransferError:
        raise _unavailable(asset, attempts, mismatch=mismatch) from None
    return Resolution(asset, path, "download", "downloaded into the cache", verified,
                      "checksum verified" if verified else "no published checksum (opted in)")


def resolve(asset_id: str, *, download: bool | None = None, allow_unverified: bool | None = None,
            progress: bool | None = None) -> Path:
    """Path of a verified local copy of ``asset_id`` (directory for datasets, file for weights).

    ``download=None`` downloads when needed unless ``PERCEPTUAL_COMPRESSION_OFFLINE=1``; ``True``
    downloads even then; ``False`` never downloads. ``allow_unverified`` (default from
    ``PERCEPTUAL_COMPRESSION_ALLOW_UNVERIFIED``) permits downloading files that have no published
    checksum. Raises :class:`AssetUnavailableError` (one line: what, where, how to provide it), or
    its subclass :class:`ChecksumError` when a copy or download failed verification.
    """
    return locate(asset_id, download=download, allow_unverified=allow_unverified, progress=progress).path
