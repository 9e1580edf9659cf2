"""The asset registry: ``data/registry.toml`` parsed into :class:`Asset` entries.

Each top-level table of the TOML file is one asset, keyed by its id (``[kodak]``, ``[torchvision-alexnet]``).
A weights entry names its single file inline (``url``, ``checksum``, ``size``); a dataset lists its
files as ``[[<id>.files]]`` tables. The schema (every key, what it means) is documented at the top of
``data/registry.toml``; :func:`load_registry` validates it and raises :class:`RegistryError` naming the
entry and the key at fault, so that chapters appending their own entries get a clear message.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from .. import paths
from .checksums import Checksum
from .errors import RegistryError

KINDS = ("dataset", "weights")
ARCHIVE_FORMATS = ("zip", "tar", "tar.gz", "tgz", "rar")

_ASSET_KEYS = {
    "kind", "title", "homepage", "license", "citation", "local", "used_by", "notes", "files",
    "url", "mirrors", "checksum", "checksum_source", "size", "size_note", "local_sha256", "local_note",
    "combined_checksum", "combined_checksum_source", "expect_glob", "expect_count",
}
_FILE_KEYS = {
    "name", "url", "mirrors", "checksum", "checksum_source", "size", "size_note", "local_sha256",
    "local_note", "archive", "extract_to",
}
_REQUIRED = ("kind", "title", "homepage", "license", "citation", "local", "used_by")


@dataclass(frozen=True)
class AssetFile:
    """One file of an asset: where to get it and how to check it.

    ``name`` is the path relative to the asset's directory (datasets) or the file name (weights).
    ``checksum`` verifies the official download; ``local_sha256`` lists further SHA-256 values that
    are accepted for copies found in local data directories (known, documented repacks such as the
    MNIST training images in ``../shared/data``). ``size`` is in bytes, ``None`` when not published
    (``size_note`` says why). ``archive`` is the archive format when the file is extracted after
    verification (into ``extract_to`` inside the asset directory).
    """

    name: str
    url: str
    mirrors: tuple[str, ...]
    checksum: Checksum
    checksum_source: str
    size: int | None
    size_note: str
    local_sha256: tuple[str, ...] = ()
    local_note: str = ""
    archive: str | None = None
    extract_to: str = ""

    @property
    def urls(self) -> tuple[str, ...]:
        return (self.url, *self.mirrors)


@dataclass(frozen=True)
class Asset:
    """A registry entry (see ``data/registry.toml`` for the meaning of each field)."""

    id: str
    kind: str
    title: str
    homepage: str
    license: str
    citation: str
    local: str
    used_by: tuple[str, ...]
    files: tuple[AssetFile, ...]
    notes: str = ""
    combined_checksum: Checksum | None = None
    combined_checksum_source: str = ""
    expect_glob: str | None = None
    expect_count: int | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_archive(self) -> bool:
        """Whether the asset is obtained by extracting archives."""
        return any(f.archive for f in self.files)

    @property
    def checksum(self) -> Checksum:
        """The single file's checksum (weights) — convenience for one-file assets."""
        return self.files[0].checksum

    @property
    def url(self) -> str:
        return self.files[0].url

    @property
    def urls(self) -> tuple[str, ...]:
        return tuple(u for f in self.files for u in f.urls)

    @property
    def size(self) -> int | None:
        """Total size in bytes of the official download, ``None`` when any size is unpublished."""
        sizes = [f.size for f in self.files]
        return None if any(s is None for s in sizes) else sum(sizes)  # type: ignore[arg-type]

    @property
    def verifiable(self) -> bool:
        """Whether a download can be verified (every file has a checksum, or a combined one exists)."""
        return all(f.checksum.known for f in self.files) or (
            self.combined_checksum is not None and self.combined_checksum.known
        )


def _as_tuple(value: Any, where: str, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise RegistryError(f"{where}: {key} must be a string or a list of strings")


def _size(value: Any, note: str, where: str) -> int | None:
    if value == "unknown":
        if not note:
            raise RegistryError(f"{where}: size = \"unknown\" needs a size_note saying why")
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise RegistryError(f"{where}: size must be a byte count or \"unknown\", got {value!r}")


def _url(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.startswith(("http://", "https://", "file://")):
        raise RegistryError(f"{where}: url must be an http(s):// or file:// URL, got {value!r}")
    return value


def _parse_file(raw: dict, defaults: dict, where: str) -> AssetFile:
    unknown = set(raw) - _FILE_KEYS
    if unknown:
        raise RegistryError(f"{where}: unknown key(s) {sorted(unknown)}; valid keys: {sorted(_FILE_KEYS)}")
    merged = {**defaults, **raw}
    for key in ("name", "url", "checksum", "size"):
        if key not in merged:
            raise RegistryError(f"{where}: missing key {key!r}")
    name = merged["name"]
    if not isinstance(name, str) or not name or PurePosixPath(name).is_absolute() or ".." in PurePosixPath(name).parts:
        raise RegistryError(f"{where}: name must be a relative path inside the asset, got {name!r}")
    checksum = Checksum.parse(merged["checksum"], where=where)
    source = str(merged.get("checksum_source", ""))
    if not source:
        raise RegistryError(f"{where}: checksum_source is required (where the checksum comes from, or why unknown)")
    archive = merged.get("archive")
    if archive is not None and archive not in ARCHIVE_FORMATS:
        raise RegistryError(f"{where}: archive must be one of {ARCHIVE_FORMATS}, got {archive!r}")
    for h in _as_tuple(merged.get("local_sha256"), where, "local_sha256"):
        Checksum.parse("sha256:" + h, where=f"{where} local_sha256")
    return AssetFile(
        name=name,
        url=_url(merged["url"], where),
        mirrors=tuple(_url(u, where) for u in _as_tuple(merged.get("mirrors"), where, "mirrors")),
        checksum=checksum,
        checksum_source=source,
        size=_size(merged["size"], str(merged.get("size_note", "")), where),
        size_note=str(merged.get("size_note", "")),
        local_sha256=tuple(h.lower() for h in _as_tuple(merged.get("local_sha256"), where, "local_sha256")),
        local_note=str(merged.get("local_note", "")),
        archive=archive,
        extract_to=str(merged.get("extract_to", "")),
    )


def parse_asset(asset_id: str, raw: dict) -> Asset:
    """Validate one registry table and build its :class:`Asset`."""
    where = f"data/registry.toml [{asset_id}]"
    if not isinstance(raw, dict):
        raise RegistryError(f"{where}: must be a table")
    unknown = set(raw) - _ASSET_KEYS
    if unknown:
        raise RegistryError(f"{where}: unknown key(s) {sorted(unknown)}; valid keys: {sorted(_ASSET_KEYS)}")
    for key in _REQUIRED:
        if key not in raw or raw[key] in ("", []):
            raise RegistryError(f"{where}: missing key {key!r}")
    if raw["kind"] not in KINDS:
        raise RegistryError(f"{where}: kind must be one of {KINDS}, got {raw['kind']!r}")
    local = raw["local"]
    if not isinstance(local, str) or PurePosixPath(local).is_absolute() or ".." in PurePosixPath(local).parts:
        raise RegistryError(f"{where}: local must be a relative path, got {local!r}")
    shared = {k: raw[k] for k in ("checksum_source", "size_note", "local_note") if k in raw}
    if raw["kind"] == "weights":
        if "files" in raw:
            raise RegistryError(f"{where}: a weights entry names its one file inline (url, checksum, size), not [[files]]")
        single = {k: raw[k] for k in ("url", "mirrors", "checksum", "size", "local_sha256") if k in raw}
        single["name"] = PurePosixPath(local).name
        files = (_parse_file(single, shared, where),)
    else:
        raw_files = raw.get("files")
        if not isinstance(raw_files, list) or not raw_files:
            raise RegistryError(f"{where}: a dataset lists its files as [[{asset_id}.files]] tables")
        inline = {"url", "mirrors", "checksum", "size", "local_sha256"} & set(raw)
        if inline:
            raise RegistryError(f"{where}: key(s) {sorted(inline)} belong in [[{asset_id}.files]] for a dataset")
        files = tuple(_parse_file(f, shared, f"{where} files[{i}]") for i, f in enumerate(raw_files))
        names = [f.name for f in files]
        if len(set(names)) != len(names):
            raise RegistryError(f"{where}: duplicate file names")
    combined = None
    if "combined_checksum" in raw:
        combined = Checksum.parse(raw["combined_checksum"], where=f"{where} combined_checksum")
        if not raw.get("combined_checksum_source"):
            raise RegistryError(f"{where}: combined_checksum needs combined_checksum_source")
    used_by = _as_tuple(raw["used_by"], where, "used_by")
    expect_count = raw.get("expect_count")
    if expect_count is not None and (not isinstance(expect_count, int) or expect_count < 1):
        raise RegistryError(f"{where}: expect_count must be a positive integer")
    return Asset(
        id=asset_id,
        kind=raw["kind"],
        title=str(raw["title"]),
        homepage=str(raw["homepage"]),
        license=str(raw["license"]),
        citation=str(raw["citation"]),
        local=local,
        used_by=used_by,
        files=files,
        notes=str(raw.get("notes", "")),
        combined_checksum=combined,
        combined_checksum_source=str(raw.get("combined_checksum_source", "")),
        expect_glob=raw.get("expect_glob"),
        expect_count=expect_count,
    )


_cache: dict[tuple, dict[str, Asset]] = {}


def registry_path() -> Path:
    """``data/registry.toml`` of the repository (see :mod:`perceptual_compression.paths`)."""
    return paths.data_dir() / "registry.toml"


def load_registry(path: str | os.PathLike | None = None) -> dict[str, Asset]:
    """All assets of a registry file, in file order (memoized until the file changes)."""
    path = Path(path) if path is not None else registry_path()
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    if key not in _cache:
        with open(path, "rb") as f:
            try:
                data = tomllib.load(f)
            except tomllib.TOMLDecodeError as exc:
                raise RegistryError(f"{path}: not valid TOML: {exc}") from exc
        _cache[key] = {asset_id: parse_asset(asset_id, raw) for asset_id, raw in data.items()}
    return dict(_cache[key])


def registry() -> dict[str, Asset]:
    """The project's registry: ``{asset_id: Asset}``."""
    return load_registry()


def asset_info(asset_id: str) -> Asset:
    """The registry entry of ``asset_id`` (``KeyError`` naming close matches when unknown)."""
    reg = registry()
    if asset_id not in reg:
        import difflib

        close = difflib.get_close_matches(asset_id, list(reg), n=5, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; known ids: {', '.join(reg)}"
        raise KeyError(f"unknown asset id {asset_id!r} in {registry_path()}{hint}")
    return reg[asset_id]
