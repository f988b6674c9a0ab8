"""Fidelity of an engine on portrait → clip-frame pairs: expression kept, identity carried, pose kept.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/fidelity_check.py [--engine warp] [--json out.json]

Pairs: 8 portraits of /work/shared/samples (the sample photos of single people) onto 6 frames of
the two sample clips (4 of pyfeat_WolfgangLanger_Pexels.mp4, frame 150 with a hand over the mouth
among them, and 2 of pyfeat_single_face.mp4): 48 pairs. Per pair, with dlib's 68 landmarks re-fitted
on the output inside the target's face box (DESIGN.md §5):

- expression error: |Δ eye aspect ratio| + |Δ inner-mouth aspect ratio|, output vs target;
- identity nearer source: dlib identity distance output→source < output→target;
- pose: |Δ yaw|, |Δ pitch|, |Δ roll| output vs target (solvePnP on the 68 points).

The same expression error of the *source* vs the target is printed for reference (what a swap that
carries the source's expression would score).

The measure is noisy: dlib's fit moves with pixels far from the eyes and mouth (re-saving a target
as JPEG 80 alone moves one frame's error by up to 0.045; 72 px of a hand mask, 0.011). ``--floor``
prints what each target frame swapped onto *itself* scores (the engine's own floor on these frames),
``--jitter`` adds the error of landmarks averaged over 7 face boxes shifted by ±2 % (output and target
alike): a lower-variance reading of the same quantity, for telling a real change from noise.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

SAMPLES = Path("/work/shared/samples")
PORTRAITS = (
    "facerec_obama.jpg",
    "facerec_obama2.jpg",
    "facerec_biden.jpg",
    "skimage_astronaut.png",
    "pyfeat_0-f1-su-ph.jpg",
    "pyfeat_0-f15-hao-ph.jpg",
    "pyfeat_15-f13-anc-ph.jpg",
    "pyfeat_single_face.jpg",
)
FRAMES = (
    ("pyfeat_WolfgangLanger_Pexels.mp4", 30),
    ("pyfeat_WolfgangLanger_Pexels.mp4", 150),
    ("pyfeat_WolfgangLanger_Pexels.mp4", 250),
    ("pyfeat_WolfgangLanger_Pexels.mp4", 400),
    ("pyfeat_single_face.mp4", 10),
    ("pyfeat_single_face.mp4", 60),
)


def eye_aspect_ratio(lm: np.ndarray) -> float:
    """DESIGN.md §5: (|p37−p41| + |p38−p40|) / 2|p36−p39|, averaged over both eyes."""

    def one(a: int) -> float:
        p = lm[a : a + 6]
        return float((np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4])) / (2 * np.linalg.norm(p[0] - p[3])))

    return (one(36) + one(42)) / 2


def mouth_aspect_ratio(lm: np.ndarray) -> float:
    """DESIGN.md §5: mean of the inner-lip gaps 61–67, 62–66, 63–65 over |p60−p64|."""
    gaps = [np.linalg.norm(lm[a] - lm[b]) for a, b in ((61, 67), (62, 66), (63, 65))]
    return float(np.mean(gaps) / np.linalg.norm(lm[60] - lm[64]))


def expression_error(a: np.ndarray, b: np.ndarray) -> float:
    return abs(eye_aspect_ratio(a) - eye_aspect_ratio(b)) + abs(mouth_aspect_ratio(a) - mouth_aspect_ratio(b))


JITTER = ((0, 0, 0, 0), (1, 0, 1, 0), (-1, 0, -1, 0), (0, 1, 0, 1), (0, -1, 0, -1), (-1, -1, 1, 1), (1, 1, -1, -1))


def averaged_landmarks(rgb: np.ndarray, box: np.ndarray) -> np.ndarray:
    """dlib's 68 points averaged over the face box shifted by ±2 % of its width (:data:`JITTER`)."""
    from faceweave.analysis.landmarks import landmarks_68

    d = 0.02 * float(box[2] - box[0])
    return np.mean([landmarks_68(rgb, box + np.asarray(j, np.float32) * d) for j in JITTER], axis=0)


def clip_frame(name: str, index: int) -> np.ndarray:
    from faceweave.media.video import read_frames

    for i, f in enumerate(read_frames(SAMPLES / name)):
        if i == index:
            return f
    raise ValueError(f"{name} has no frame {index}")


def pct(v: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(v), q))


def summarise(rows: list[dict], a: argparse.Namespace, eng: object, opts: object, targets: list) -> None:
    """Print the figures of the pairs (and with ``--floor`` swap each target onto itself)."""
    from faceweave.analysis.landmarks import landmarks_68

    e = [r["expr_err"] for r in rows]
    es = [r["expr_src"] for r in rows]
    nearer = [r["id_src"] < r["id_tgt"] for r in rows]
    pose = [r["pose"] for r in rows]
    out = sys.stdout.write
    out(f"engine={a.engine} blend={a.blend} extra={a.extra or {}} pairs={len(rows)}\n")
    out(f"  expression error   mean {np.mean(e):.3f}  median {statistics.median(e):.3f}  p90 {pct(e, 90):.3f}\n")
    out(f"  eye part mean {np.mean([r['eye_err'] for r in rows]):.3f}   mouth part mean "
        f"{np.mean([r['mouth_err'] for r in rows]):.3f}\n")
    for tn in dict.fromkeys(r["target"] for r in rows):
        v = [r["expr_err"] for r in rows if r["target"] == tn]
        out(f"    target {tn:38s} expression error mean {np.mean(v):.3f}\n")
    out(f"  (source vs target  mean {np.mean(es):.3f}  median {statistics.median(es):.3f})\n")
    if a.jitter:
        jit = np.mean([r["expr_jitter"] for r in rows])
        out(f"  expression error, landmarks averaged over 7 boxes: mean {jit:.3f}\n")
    if a.floor:
        own = [expression_error(landmarks_68(eng.swap_face(t, f, t, f, opts), f.box), f.landmarks)
               for _, t, f in targets]
        out(f"  floor (each target onto itself): mean {np.mean(own):.3f}  " + " ".join(f"{v:.3f}" for v in own) + "\n")
    id_src, id_tgt = np.mean([r["id_src"] for r in rows]), np.mean([r["id_tgt"] for r in rows])
    out(f"  identity nearer source {100 * np.mean(nearer):.1f} %   id→src mean {id_src:.3f}   id→tgt {id_tgt:.3f}\n")
    out(f"  pose (max |Δ| of yaw/pitch/roll) median {statistics.median(pose):.1f}°  p90 {pct(pose, 90):.1f}°\n")
    out(f"  ms per swap median {statistics.median([r['ms'] for r in rows]):.1f}\n")
    for r in rows:
        if r["expr_err"] > 0.08 or r["id_src"] >= r["id_tgt"]:
            out(f"    {r['source']:26s} → {r['target']:36s} expr {r['expr_err']:.3f} "
                f"id {r['id_src']:.3f}/{r['id_tgt']:.3f}\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engine", default="warp")
    ap.add_argument("--blend", default="multiband")
    ap.add_argument("--json", default=None, help="write the per-pair records here")
    ap.add_argument("--extra", default="", help="engine extra options, k=v,k=v (floats)")
    ap.add_argument("--floor", action="store_true", help="also swap each target frame onto itself")
    ap.add_argument("--jitter", action="store_true", help="also the box-jitter-averaged expression error")
    a = ap.parse_args()

    from faceweave.analysis import analyze
    from faceweave.analysis.identity import embedding
    from faceweave.analysis.landmarks import landmarks_68
    from faceweave.engines import SwapOptions, get_engine
    from faceweave.eval import metrics as M
    from faceweave.media import read_image

    extra: dict[str, object] = {}
    for kv in filter(None, a.extra.split(",")):
        k, v = kv.split("=")
        extra[k] = float(v)
    eng = get_engine(a.engine)
    opts = SwapOptions(blend=a.blend, extra=extra)  # type: ignore[arg-type]
    sources = []
    for p in PORTRAITS:
        rgb = read_image(SAMPLES / p).rgb
        sources.append((p, rgb, analyze(rgb, mesh=eng.needs_mesh)[0]))
    targets = []
    for clip, i in FRAMES:
        rgb = clip_frame(clip, i)
        targets.append((f"{clip}#{i}", rgb, analyze(rgb, mesh=eng.needs_mesh)[0]))

    rows = []
    for sn, srgb, sf in sources:
        for tn, trgb, tf in targets:
            t0 = time.perf_counter()
            out = eng.swap_face(srgb, sf, trgb, tf, opts)
            ms = 1000 * (time.perf_counter() - t0)
            lm = landmarks_68(out, tf.box)
            emb = embedding(out, lm, tf.box)
            h, w = trgb.shape[:2]
            pose = M.pose_difference(M.head_pose(lm, (w, h)), M.head_pose(tf.landmarks, (w, h)))
            if a.jitter:
                jit = expression_error(averaged_landmarks(out, tf.box), averaged_landmarks(trgb, tf.box))
            rows.append(
                {
                    "source": sn,
                    "target": tn,
                    "expr_err": expression_error(lm, tf.landmarks),
                    "expr_src": expression_error(sf.landmarks, tf.landmarks),
                    "eye_err": abs(eye_aspect_ratio(lm) - eye_aspect_ratio(tf.landmarks)),
                    "mouth_err": abs(mouth_aspect_ratio(lm) - mouth_aspect_ratio(tf.landmarks)),
                    "id_src": M.identity_distance(emb, sf.embedding),
                    "id_tgt": M.identity_distance(emb, tf.embedding),
                    "pose": max(pose),
                    "yaw": pose[0],
                    "ms": ms,
                    **({"expr_jitter": jit} if a.jitter else {}),
                }
            )
    summarise(rows, a, eng, opts, targets)
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
