"""The harmonizer's "done when" figures on held-out photos, and the before/after sheet.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/harmonizer_figures.py [--weights W] [--seeds 4] [--json OUT]

1. Self-composites of every face of the held-out photos (never used in training): the face disturbed
   and re-pasted with multiband blending (the "multiband alone" baseline), and with the engines'
   L*a*b* colour transfer before the blend. Mean CIEDE2000 over the face region (composite mask
   > 0.5) against the undisturbed photo, and the seam gradient energy (mean squared Sobel gradient of
   L* in a ±3 px band around the mask's 0.5 contour), before and after the harmonizer. The harmonizer
   is told what the engine did (colour-transferred or not); for weights that read that flag the
   last column scores the same composites with the flag inverted (a diagnostic: what the flag does).
2. Real swaps (warp and delaunay engines) between held-out photos: dlib identity distance
   (DESIGN.md §5) of the swapped face to the source, without and with ``--harmonize``; a face must
   still be detected in every harmonized result.

Writes docs/images/harmonizer_sheet.jpg and prints a Markdown table (and JSON with ``--json``).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = Path("/work/shared/samples") if Path("/work/shared/samples").is_dir() else ROOT / "tests" / "assets"
HELD_OUT = ["facerec_biden.jpg", "facerec_obama2.jpg", "pyfeat_15-f13-anc-ph.jpg", "skimage_astronaut.png",
            "faceapi_sample5.jpg", "faceapi_sample6.jpg"]
PORTRAITS = HELD_OUT[:4]


def _face_crop(img: np.ndarray, face, size: int = 200) -> np.ndarray:
    from faceweave.compose.harmonize import crop

    lm = np.asarray(face.landmarks)
    lo, hi = lm.min(0), lm.max(0)
    return crop(img, (float(lo[0] + hi[0]) / 2, float(lo[1] + hi[1]) / 2 - 0.1 * float(hi[1] - lo[1]),
                      1.7 * float(max(hi - lo))), size)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default=None, help="harmonizer weights (default the shipped demo weights)")
    ap.add_argument("--seeds", type=int, default=4, help="self-composites per held-out face")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--sheet", type=Path, default=ROOT / "docs" / "images" / "harmonizer_sheet.jpg")
    a = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from faceweave import api
    from faceweave.analysis import analyze
    from faceweave.analysis.identity import identity_distance
    from faceweave.compose.harmonize import composite_mask, harmonize_face, load_harmonizer
    from faceweave.data.harmonizer import face_patch, self_composite
    from faceweave.eval.metrics import mean_ciede2000, seam_band, seam_gradient_energy
    from faceweave.media import read_image, write_image

    model = load_harmonizer(a.weights)
    images = {n: read_image(SAMPLES / n).rgb for n in HELD_OUT}
    faces = {n: analyze(images[n], mesh=True, identity=True) for n in HELD_OUT}

    # ---- 1. self-composites
    rows: dict[str, dict[str, list[float]]] = {}
    sheet_rows: list[np.ndarray] = []
    for variant, ct in (("multiband", 0.0), ("colour+multiband", 1.0)):
        keys = ("de_before", "de_after", "seam_before", "seam_after", "seam_truth", "de_wrong_flag")
        r = rows.setdefault(variant, {k: [] for k in keys})
        for n in HELD_OUT:
            for f in faces[n]:
                p = face_patch(images[n], f, n)
                for s in range(a.seeds):
                    comp, truth = self_composite(p, np.random.default_rng(1000 + s), colour_transfer=ct, multiband=1.0)
                    m = composite_mask(truth, comp)
                    if (m > 0.5).sum() < 50:
                        continue
                    out = harmonize_face(truth, comp, model, colour_transferred=bool(ct))  # what the engine did
                    if model.config.colour_input:  # diagnostic: the same composite with the flag inverted
                        wrong = harmonize_face(truth, comp, model, colour_transferred=not ct)
                        r["de_wrong_flag"].append(mean_ciede2000(wrong, truth, m))
                    band = seam_band(m)
                    r["de_before"].append(mean_ciede2000(comp, truth, m))
                    r["de_after"].append(mean_ciede2000(out, truth, m))
                    r["seam_before"].append(seam_gradient_energy(comp, band))
                    r["seam_after"].append(seam_gradient_energy(out, band))
                    r["seam_truth"].append(seam_gradient_energy(truth, band))
                    if variant == "multiband" and s == 0 and f.index == 0 and len(sheet_rows) < 4:
                        c = slice(64, 320)
                        sheet_rows.append(np.hstack([cv2.resize(v[c, c], (200, 200), interpolation=cv2.INTER_AREA)
                                                     for v in (truth, comp, out)]))

    # ---- 2. real swaps between held-out photos
    swap: dict[str, dict[str, list[float]]] = {}
    detected = attempted = 0
    for engine in ("warp", "delaunay"):
        sw = swap.setdefault(engine, {"d_plain": [], "d_harm": []})
        for sn in PORTRAITS:
            for tn in HELD_OUT:
                if tn == sn:
                    continue
                src_emb = faces[sn][0].embedding
                tf = faces[tn][0]
                d = {}
                results = {}
                for harm in (False, True):
                    harmonize = (a.weights or True) if harm else False
                    res = api.swap_picture(images[sn], images[tn], engine=engine, harmonize=harmonize)
                    out = res.picture.rgb
                    results[harm] = out
                    found = analyze(out, mesh=False, identity=True)
                    near = [g for g in found if abs(g.center[0] - tf.center[0]) < 0.3 * tf.width
                            and abs(g.center[1] - tf.center[1]) < 0.3 * tf.width]
                    if harm:
                        attempted += 1
                        detected += bool(near)
                    if near:
                        d[harm] = identity_distance(src_emb, near[0].embedding)
                if len(d) == 2:
                    sw["d_plain"].append(d[False])
                    sw["d_harm"].append(d[True])
                if engine == "warp" and tn in PORTRAITS and len(sheet_rows) < 8 and sn != "facerec_obama2.jpg":
                    sheet_rows.append(np.hstack([cv2.resize(_face_crop(v, tf), (200, 200)) for v in
                                                 (images[tn], results[False], results[True])]))

    # ---- report
    fig: dict[str, object] = {"held_out": HELD_OUT, "self_composites": {}, "real_swaps": {}}
    lines = ["| held-out self-composites | n | ΔE00 face, before | after | change | seam energy before | after | "
             "undisturbed photo | after, flag inverted |", "|---|---|---|---|---|---|---|---|---|"]
    for variant, r in rows.items():
        b, af = np.mean(r["de_before"]), np.mean(r["de_after"])
        sb, sa, st = np.mean(r["seam_before"]), np.mean(r["seam_after"]), np.mean(r["seam_truth"])
        wf = float(np.mean(r["de_wrong_flag"])) if r["de_wrong_flag"] else float("nan")
        fig["self_composites"][variant] = {"n": len(r["de_before"]), "de_before": b, "de_after": af,
                                           "reduction": 1 - af / b, "seam_before": sb, "seam_after": sa,
                                           "seam_truth": st, "de_after_wrong_flag": wf}
        lines.append(f"| {variant} | {len(r['de_before'])} | {b:.2f} | {af:.2f} | {100 * (af / b - 1):+.0f} % | "
                     f"{sb:.2f} | {sa:.2f} | {st:.2f} | {wf:.2f} ({100 * (wf / b - 1):+.0f} %) |")
    lines += ["", "| real swaps (held-out pairs) | n | dlib distance to source, plain | harmonized | mean Δ | "
              "mean abs Δ |", "|---|---|---|---|---|---|"]
    for engine, sw in swap.items():
        p_, h_ = np.array(sw["d_plain"]), np.array(sw["d_harm"])
        fig["real_swaps"][engine] = {"n": len(p_), "plain": float(p_.mean()), "harmonized": float(h_.mean()),
                                     "mean_delta": float((h_ - p_).mean()),
                                     "mean_abs_delta": float(np.abs(h_ - p_).mean())}
        lines.append(f"| {engine} | {len(p_)} | {p_.mean():.4f} | {h_.mean():.4f} | {(h_ - p_).mean():+.4f} | "
                     f"{np.abs(h_ - p_).mean():.4f} |")
    fig["face_detected"] = f"{detected}/{attempted}"
    lines.append(f"\nface still detected in the harmonized swap: {detected}/{attempted}")
    sys.stdout.write("\n".join(lines) + "\n")
    if a.json:
        a.json.write_text(json.dumps(fig, indent=2, default=float), encoding="utf-8")
    if sheet_rows:
        write_image(a.sheet, np.vstack(sheet_rows), synthetic=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
