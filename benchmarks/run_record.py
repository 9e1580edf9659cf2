"""How and where a committed longer run in ``benchmarks/`` ran: its command line, device, threads, machine,
versions and start time. Every such run records these beside its results, so that a chapter can show exactly how
a number was made.

Usage in a script run as ``python benchmarks/<name>.py``::

    add_run_arguments(ap, ROOT / "results" / "<name>")
    args = ap.parse_args()
    run = RunRecord(args, "<name>.py")     # sets the torch threads, picks the device
    ... result = {..., **run.environment()}
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path
from typing import Callable

import torch

from perceptual_compression.training import default_device


def add_run_arguments(ap: argparse.ArgumentParser, default_out: Path, *, render: bool = False) -> None:
    """``--threads`` (torch CPU threads) and ``--out`` (results path without suffix); with ``render``, also
    ``--render RECORD.json`` (see :func:`rendered_from_record`)."""
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--out", type=Path, default=default_out)
    if render:
        ap.add_argument("--render", type=Path, default=None, metavar="RECORD.json",
                        help="rewrite the markdown summary beside a committed JSON record from the record alone, and stop")


def rendered_from_record(args: argparse.Namespace, render_markdown: Callable[[dict], str]) -> bool:
    """With ``--render RECORD.json``: write ``RECORD.md`` from the record alone and return True (the script
    then stops); otherwise return False."""
    if getattr(args, "render", None) is None:
        return False
    args.render.with_suffix(".md").write_text(render_markdown(json.loads(args.render.read_text())))
    return True


class RunRecord:
    """Applies ``--threads``, picks the device, and notes the command line, start time and load average."""

    def __init__(self, args: argparse.Namespace, script: str) -> None:
        if args.threads:
            torch.set_num_threads(args.threads)
        self.device = default_device()
        self.command = (f"python benchmarks/{script} " + " ".join(shlex.quote(a) for a in sys.argv[1:])).strip()
        self.started = time.strftime("%Y-%m-%dT%H:%M:%S")
        self.load = [round(v, 2) for v in os.getloadavg()]

    def environment(self, *, measured_on: str | None = None) -> dict:
        """The fields every committed run records about where it ran. ``measured_on``: the device the script
        evaluates on when that is not necessarily ``device`` (the one it trains on), e.g. ``"cpu"`` for a script
        that moves its models there to measure them."""
        gpu = {"gpu": torch.cuda.get_device_name(self.device)} if self.device.type == "cuda" else {}
        measured = {"measured_on": measured_on} if measured_on is not None else {}
        return {
            "device": str(self.device), **gpu, **measured, "torch_threads": torch.get_num_threads(),
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores visible, "
                       f"load average at start {self.load}",
            "python": platform.python_version(), "torch": torch.__version__, "date": self.started,
        }

    @staticmethod
    def save(out: Path, result: dict, markdown: str) -> None:
        """Write ``out.json`` (the record) and ``out.md`` (its summary), creating the folder; print the summary."""
        out.parent.mkdir(parents=True, exist_ok=True)
        out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
        out.with_suffix(".md").write_text(markdown)
        print(markdown)

    @staticmethod
    def machine_line(result: dict) -> str:
        """The md line naming the machine, device, threads and versions of ``result``."""
        device = result["device"] + (f" ({result['gpu']})" if result.get("gpu") else "")
        if result.get("measured_on", result["device"]) != result["device"]:
            device = f"trained on {device}, measured on {result['measured_on']}"
        return (f"Machine: {result['machine']}; {device}, {result['torch_threads']} thread(s); Python "
                f"{result['python']}, torch {result['torch']}.")

    @staticmethod
    def resumed_note(resumed_from: int | None, total_s: float | None) -> str:
        """For a model or run that continued an earlier invocation's checkpoint (``resumed_from``: its step):
        where it resumed and its training time over every invocation (``total_s``; None: unknown, a checkpoint
        older than the Trainer's ``train_seconds``). ``""`` for one trained in a single invocation."""
        if resumed_from is None:
            return ""
        return (f"resumed at step {resumed_from:,}; "
                + (f"{total_s / 60:.1f} min of training in all" if total_s is not None else "earlier training time unknown"))

    @staticmethod
    def footer(result: dict, *, wall_detail: str = "", cpu_detail: str = "") -> list[str]:
        """The md's closing lines: the command, then the machine, start, wall time (``wall_detail`` in brackets
        after it) and CPU time (``cpu_detail`` after it) of ``result``."""
        wall = f"{result['wall_s'] / 60:.1f} min wall" + (f" ({wall_detail})" if wall_detail else "")
        cpu = f"{result['cpu_s'] / 60:.1f} CPU-min" + (f" {cpu_detail}" if cpu_detail else "")
        return [f"Command: `{result['command']}`", "",
                f"{RunRecord.machine_line(result)} Run {result['date']}, {wall}, {cpu} (the machine may be shared: "
                "wall time is an upper bound).", ""]
