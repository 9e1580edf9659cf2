"""Chapter 2: what the pretrained-model cell ("The paper's setting: pretrained models") costs at a scale.

With CompressAI's pretrained ``bmshj2018-factorized`` models (an MSE and an MS-SSIM model for every quality of
``EvalConfig.zoo_qualities``) the cell does three kinds of work:

- ``evaluate_codec``: every test image coded for real (compress and decompress) by every model;
- Observation 5: every reference and distorted image of the TID2013 stand-in through ``e`` and ``d`` (two
  forward passes, :func:`~perceptual_compression.models.factorized_prior.inner` and ``reconstruct``, no coding);
- Fig. 4 (right): every contrast-axis image (``n_alpha`` contrasts of ``contrast_images`` images) coded for real
  by both models of every quality.

The weights cannot be had here, so this script times one operation of each kind on stand-in models of the
zoo's widths (appendix D: N, M = 128, 192 for qualities 1-5 and 192, 320 above) with random weights, on a Kodak
image (or the labelled fallback photograph) at the cell's image size, and multiplies by the cell's counts. The
transforms cost the same whatever the weights; the entropy coder's time grows with the number of latent symbols,
which the widths and the image size fix, and weakly with the bits, which trained models would change. So the
totals are estimates of the order of the cost, not timings of the cell.

Usage::

    python benchmarks/ch2_pretrained_cost.py --threads 2                  # the committed run (scale "paper")
    python benchmarks/ch2_pretrained_cost.py --scale small --repeat 1 --out /tmp/cost   # smoke
    python benchmarks/ch2_pretrained_cost.py --render benchmarks/results/ch2_pretrained_cost.json  # md from the record
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from perceptual_compression.coding import ImageCodec
from perceptual_compression.datasets import natural_images
from perceptual_compression.datasets.distortions import DISTORTIONS, LEVELS
from perceptual_compression.experiments.ch2_config import SCALES, Ch2Config, EvalConfig
from perceptual_compression.models.factorized_prior import factorized_prior, inner, reconstruct, widths_for_rate
from run_record import RunRecord, add_run_arguments, rendered_from_record  # benchmarks/run_record.py

ROOT = Path(__file__).resolve().parent
KODAK = (512, 768)  # a whole Kodak image (the portrait ones have the same number of pixels)


def cell_counts(ev: EvalConfig) -> list[dict]:
    """The operations of the pretrained cell for ``ev``, one row per part and width: ``part``, ``kind``
    (``"code"``: compress and decompress; ``"forward"``: ``inner`` and ``reconstruct``), ``widths`` ``(N, M)``,
    ``size`` ``(H, W)`` of the images and the number of ``operations``. Observation 5 is counted on the
    chapter's stand-in (``obs5_references`` Kodak images, each distorted by every kind at every level)."""
    eval_size = KODAK if ev.eval_size is None else (ev.eval_size, ev.eval_size)
    obs5_size = KODAK if ev.obs5_size is None else (ev.obs5_size, ev.obs5_size)
    per_reference = 1 + len(DISTORTIONS) * len(LEVELS)  # the reference, then its distorted images
    models: dict[tuple[int, int], int] = {}
    for q in ev.zoo_qualities:
        w = widths_for_rate(q - 1)
        models[w] = models.get(w, 0) + 2  # an MSE and an MS-SSIM model
    rows = []
    for w, n in sorted(models.items()):
        rows += [
            {"part": "evaluate_codec", "kind": "code", "widths": w, "size": eval_size, "operations": n * ev.eval_images},
            {"part": "Observation 5", "kind": "forward", "widths": w, "size": obs5_size,
             "operations": n * ev.obs5_references * per_reference},
            {"part": "Fig. 4 (right)", "kind": "code", "widths": w, "size": eval_size,
             "operations": n * ev.n_alpha * ev.contrast_images},
        ]
    return rows


def test_image(size: tuple[int, int]) -> tuple[torch.Tensor, str]:
    """A photograph at ``size``: the first Kodak image (or the registry's labelled fallback), centre-cropped, or
    resized where it is smaller; and its label."""
    images = natural_images()
    x = images[0]
    h, w = size
    if x.shape[-2] < h or x.shape[-1] < w:
        x = F.interpolate(x[None], size=(max(h, x.shape[-2]), max(w, x.shape[-1])), mode="bilinear",
                          align_corners=False)[0].clamp(0, 1)
    t, left = (x.shape[-2] - h) // 2, (x.shape[-1] - w) // 2
    return x[:, t:t + h, left:left + w], images.label


@torch.no_grad()
def seconds_per_operation(kind: str, widths: tuple[int, int], size: tuple[int, int], device: torch.device,
                          repeat: int) -> float:
    """Mean wall time of one operation (after one warm-up) on a stand-in model with random weights."""
    torch.manual_seed(0)
    model = factorized_prior(*widths).eval()
    model.update(force=True)
    model = model.to(device)
    x = test_image(size)[0][None].to(device)
    codec = ImageCodec(model, f"ch2-cost-{widths[0]}-{widths[1]}")

    def op():
        if kind == "code":
            codec.decompress(codec.compress(x))
        else:  # what observation5 does per image
            inner(model, x)
            reconstruct(model, x)

    op()
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(repeat):
        op()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / repeat


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", default="paper", choices=SCALES, help="the chapter's scale whose cell is costed")
    ap.add_argument("--repeat", type=int, default=3, help="timed operations of each kind, width and size")
    add_run_arguments(ap, ROOT / "results" / "ch2_pretrained_cost", render=True)
    args = ap.parse_args()
    if rendered_from_record(args, render_markdown):
        return
    run = RunRecord(args, "ch2_pretrained_cost.py")
    t_start, c_start = time.perf_counter(), time.process_time()
    ev = Ch2Config.for_scale(args.scale).evaluation
    rows = cell_counts(ev)
    timed: dict[tuple, float] = {}
    for r in rows:
        key = (r["kind"], r["widths"], r["size"])
        if key not in timed:
            timed[key] = seconds_per_operation(*key, run.device, args.repeat)
            print(f"{r['kind']:7s} N, M = {r['widths']}, {r['size'][0]}x{r['size'][1]}: {timed[key]:.3f} s", flush=True)
        r["seconds_each"] = round(timed[key], 4)
        r["seconds"] = round(r["operations"] * timed[key], 1)
    result = {
        "what": "Estimated cost of the pretrained-model cell of chapter 2 (stand-in models, random weights)",
        "command": run.command, "scale": args.scale, "evaluation": dataclasses.asdict(ev), "repeat": args.repeat,
        "image": test_image(KODAK)[1],
        "rows": [{**r, "widths": list(r["widths"]), "size": list(r["size"])} for r in rows],
        "total_s": round(sum(r["seconds"] for r in rows), 1),
        "wall_s": round(time.perf_counter() - t_start, 1), "cpu_s": round(time.process_time() - c_start, 1),
        **run.environment(),
    }
    RunRecord.save(args.out, result, render_markdown(result))


def duration(seconds: float) -> str:
    """``seconds`` in the unit that reads best: s, min or h."""
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def render_markdown(result: dict) -> str:
    """The run's summary (``out.md``), derived from its record alone."""
    ev = result["evaluation"]
    table = ["| part | operation | N, M | image | operations | s each | total |", "|---|---|---:|---:|---:|---:|---:|"]
    for r in result["rows"]:
        op = "compress + decompress" if r["kind"] == "code" else "e and d (no coding)"
        table.append(f"| {r['part']} | {op} | {r['widths'][0]}, {r['widths'][1]} | {r['size'][0]}×{r['size'][1]} | "
                     f"{r['operations']:,} | {r['seconds_each']:.3f} | {duration(r['seconds'])} |")
    md = [f"# Chapter 2: {result['what']}", "", "<!-- results -->", "",
          f"Scale `{result['scale']}`: qualities {', '.join(map(str, ev['zoo_qualities']))} (an MSE and an MS-SSIM model each), "
          f"{ev['eval_images']} test images, {ev['n_alpha']} contrasts of {ev['contrast_images']} images, "
          f"{ev['obs5_references']} Observation 5 references. Each operation is the mean of {result['repeat']} timed "
          f"run(s), after a warm-up, on a stand-in model of the zoo's widths with random weights ({result['image']}).", "", "\n".join(table), "",
          f"Estimated total: **{duration(result['total_s'])}** on this machine. The weights cannot be had here, so "
          "the cell itself has not been timed; trained models change the coded bits, and with them the entropy "
          "coder's share, but not the transforms.", "",
          *RunRecord.footer(result)]
    return "\n".join(md)


if __name__ == "__main__":
    main()
