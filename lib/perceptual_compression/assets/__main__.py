"""Command line: ``python -m perceptual_compression.assets list | where ID | fetch ID [ID ...]``.

``list``   every registry entry with its status here: found locally, cached, or missing.
``where``  every place searched for one asset, what each holds, and the URLs a download would use.
``fetch``  resolve (downloading when needed, with verification); ``--allow-unverified`` permits
           files that have no published checksum. Exit status 1 when an asset stays unavailable.
"""

from __future__ import annotations

import argparse
import sys

from .errors import AssetUnavailableError
from .registry import Asset, registry
from .resolver import locate, probes


def _size(asset: Asset) -> str:
    n = asset.size
    if n is None:
        return "?"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return "?"  # pragma: no cover


def status_line(asset_id: str) -> str:
    """``found locally (verified) <path>`` / ``cached …`` / ``missing`` (no download)."""
    ps = probes(asset_id)
    for p in ps:
        if p.usable:
            where = "cached" if p.location == "cache" else "found locally"
            return f"{where} ({p.status}) {p.path}"
    if any(p.mismatch for p in ps):
        return "missing (a copy failed verification: see `where`)"
    return "missing"


def _cmd_list(_args) -> int:
    reg = registry()
    width = max(len(i) for i in reg)
    print(f"{'id'.ljust(width)}  {'kind':8} {'size':>10}  {'checksum':14} status")
    for asset_id, asset in reg.items():
        kinds = {f.checksum.kind for f in asset.files}
        check = "/".join(sorted(kinds))
        if "unknown" in kinds and asset.combined_checksum is not None:
            check = f"combined {asset.combined_checksum.kind}"
        print(f"{asset_id.ljust(width)}  {asset.kind:8} {_size(asset):>10}  {check:14} {status_line(asset_id)}")
    return 0


def _cmd_where(args) -> int:
    reg = registry()
    asset = reg[args.id] if args.id in reg else None
    if asset is None:
        from .registry import asset_info

        asset_info(args.id)  # raises KeyError with suggestions
    print(f"{asset.id}: {asset.title}")
    print(f"  licence: {asset.license}")
    print(f"  used by: {', '.join(asset.used_by)}")
    ok = False
    for p in probes(args.id):
        print(f"  {p.describe()}")
        ok |= p.usable
    for f in asset.files:
        size = f"{f.size} bytes" if f.size is not None else "size unknown"
        print(f"  download {f.url} [{f.checksum}; {size}]" + (f" (+{len(f.mirrors)} mirrors)" if f.mirrors else ""))
    if asset.combined_checksum is not None:
        print(f"  combined {asset.combined_checksum} over all files in order ({asset.combined_checksum_source})")
    if not asset.verifiable:
        print("  note: no published checksum; downloading needs --allow-unverified")
    return 0 if ok else 1


def _cmd_fetch(args) -> int:
    rc = 0
    for asset_id in args.ids:
        try:
            r = locate(asset_id, download=True, allow_unverified=args.allow_unverified)
        except AssetUnavailableError as exc:
            print(str(exc), file=sys.stderr)
            rc = 1
            continue
        print(f"{asset_id}: {r.describe()}")
    return rc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m perceptual_compression.assets", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="every asset and its status here").set_defaults(func=_cmd_list)
    w = sub.add_parser("where", help="where an asset was looked for and what each place holds")
    w.add_argument("id")
    w.set_defaults(func=_cmd_where)
    f = sub.add_parser("fetch", help="resolve, downloading with verification when needed")
    f.add_argument("ids", nargs="+", metavar="ID")
    f.add_argument("--allow-unverified", action="store_true",
                   help="also download files that have no published checksum (their sha256 is recorded)")
    f.set_defaults(func=_cmd_fetch)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyError as exc:
        print(exc.args[0] if exc.args else exc, file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
