"""Watermark robustness, false positives and invisibility on real swaps (issue 19's "Done when").

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/watermark_robustness.py [--cache DIR] [--limit N]

1. Swaps: every face of every sample photo (/work/shared/samples, or tests/assets) gets the faces of
   four other portraits, and frames of the two sample clips get one portrait each: ≥ 200 swaps with
   the default warp engine. The unmarked swap and its target are cached in ``--cache`` (PNG), so a
   rerun only redoes the marking and detection.
2. Each swap is marked exactly as ``faceweave swap`` marks it (``provenance.mark_faces``: changed
   region, target landmarks, a random 20-bit id), then attacked: none, JPEG q75, 0.5× resize + JPEG
   q75 (the target figure), JPEG q50, 0.25× resize, a 10 % crop (5 % off each side), and a
   "screenshot" (0.8× linear resize, PNG, then JPEG q90). A detection counts when
   the face carries a mark (pilot z ≥ threshold); the payload id is reported separately.
3. False positives: untouched photos (as they are, 0.5×, JPEG q75, mirrored, 10 % crops), every frame
   of both clips, and the unmarked swaps: any watermark hit there is a false positive. The faces
   found on them do not depend on the watermark and are cached (``negative_faces.json``).
4. PSNR of marked vs unmarked swap over the pixels the watermark may touch (the swapped face).

Prints a table and writes JSON (``--json``).
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from faceweave import api  # noqa: E402
from faceweave.engines.base import SwapOptions, get_engine  # noqa: E402
from faceweave.media import provenance as pv  # noqa: E402
from faceweave.media.image import read_image  # noqa: E402
from faceweave.media.provenance import watermark as wm  # noqa: E402
from faceweave.media.video import read_frames  # noqa: E402

log = logging.getLogger("watermark_robustness")

SOURCES = ["facerec_obama.jpg", "pyfeat_0-f1-su-ph.jpg", "facerec_biden.jpg", "pyfeat_15-f13-anc-ph.jpg",
           "pyfeat_0-f15-hao-ph.jpg"]
CLIPS = {"pyfeat_single_face.mp4": 2, "pyfeat_WolfgangLanger_Pexels.mp4": 7}  # every k-th frame is swapped


def samples_dir() -> Path:
    shared = Path("/work/shared/samples")
    return shared if shared.is_dir() else ROOT / "tests" / "assets"


# ---------------------------------------------------------------- attacks
def jpeg(a: np.ndarray, q: int) -> np.ndarray:
    b = io.BytesIO()
    Image.fromarray(a).save(b, "JPEG", quality=q)
    return np.asarray(Image.open(io.BytesIO(b.getvalue())).convert("RGB"))


def resize(a: np.ndarray, f: float, interp: int = cv2.INTER_AREA) -> np.ndarray:
    return cv2.resize(a, (max(8, round(a.shape[1] * f)), max(8, round(a.shape[0] * f))), interpolation=interp)


def crop10(a: np.ndarray) -> np.ndarray:
    h, w = a.shape[:2]
    return a[round(0.05 * h): h - round(0.05 * h), round(0.05 * w): w - round(0.05 * w)].copy()


ATTACKS = {
    "none": lambda a: a,
    "jpeg75": lambda a: jpeg(a, 75),
    "0.5x+jpeg75": lambda a: jpeg(resize(a, 0.5), 75),
    "jpeg50": lambda a: jpeg(a, 50),
    "0.25x": lambda a: resize(a, 0.25),
    "crop10%": crop10,
    "screenshot": lambda a: jpeg(resize(a, 0.8, cv2.INTER_LINEAR), 90),
}
DEFAULT_ATTACKS = ["0.5x+jpeg75", "jpeg75", "jpeg50", "0.25x", "crop10%"]
NEGATIVE_VARIANTS = {
    "as is": lambda a: a,
    "0.5x": lambda a: resize(a, 0.5),
    "jpeg75": lambda a: jpeg(a, 75),
    "mirrored": lambda a: np.ascontiguousarray(a[:, ::-1]),
    "crop10%": crop10,
}


# ---------------------------------------------------------------- swaps (cached)
def _png(path: Path, a: np.ndarray) -> None:
    Image.fromarray(a).save(path, compress_level=1)


def _load(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def build_swaps(cache: Path, limit: int | None) -> list[dict[str, object]]:
    """Unmarked swaps with their targets, cached as PNG + a JSON index."""
    cache.mkdir(parents=True, exist_ok=True)
    index = cache / "index.json"
    if index.exists():
        rows = json.loads(index.read_text())
        return rows[:limit] if limit else rows
    pv.configure(enabled=False)  # the benchmark marks them itself, the same way the API does
    sd = samples_dir()
    eng = get_engine("warp")
    opts = SwapOptions()
    src_faces = {}
    for s in SOURCES:
        rgb = read_image(sd / s).rgb
        src_faces[s] = (rgb, api.analyze(rgb, identity=False)[0])
    targets: list[tuple[str, np.ndarray]] = []
    for p in sorted(sd.glob("*")):
        if p.suffix.lower() in (".jpg", ".png"):
            targets.append((p.name, read_image(p).rgb))
    for clip, step in CLIPS.items():
        if (sd / clip).exists():
            for i, rgb in enumerate(read_frames(sd / clip)):
                if i % step == 0:
                    targets.append((f"{clip}#{i}", rgb))
    rows: list[dict[str, object]] = []
    k = 0
    for name, tgt in targets:
        faces = api.analyze(tgt, identity=False)
        tpath = cache / f"t{len(rows):04d}.png"
        saved = False
        srcs = [s for s in SOURCES if s != name][:4] if "#" not in name else [SOURCES[k % len(SOURCES)]]
        for f in faces:
            if f.mesh is None:
                continue
            for s in srcs if "#" not in name else srcs:
                k += 1
                srgb, sf = src_faces[s]
                try:
                    out = eng.swap_face(srgb, sf, tgt, f, opts)
                except Exception as e:  # noqa: BLE001 - a failed swap is skipped, and counted
                    log.info("%s face %d: swap failed (%s)", name, f.index, e)
                    continue
                if not saved:
                    _png(tpath, tgt)
                    saved = True
                opath = cache / f"s{len(rows):04d}.png"
                _png(opath, out)
                rows.append({"target": name, "face": f.index, "source": s, "target_png": tpath.name,
                             "swap_png": opath.name, "landmarks": f.landmarks.tolist(),
                             "face_width": float(f.box[2] - f.box[0])})
            if "#" in name:
                break  # one face per frame
        log.info("%s: %d swaps so far", name, len(rows))
    index.write_text(json.dumps(rows))
    return rows[:limit] if limit else rows


# ---------------------------------------------------------------- measurements
def measure_positives(cache: Path, rows: list[dict[str, object]], attacks: list[str],
                      progress: Path | None = None, seed: int = 0) -> list[dict[str, object]]:
    """One record per swap: PSNR, embed time, and per attack z / found / payload / wrong id / detect time."""
    rng = np.random.default_rng(seed)
    records: list[dict[str, object]] = []
    tcache: dict[str, np.ndarray] = {}
    for r in rows:
        tname = str(r["target_png"])
        if tname not in tcache:
            tcache.clear()
            tcache[tname] = _load(cache / tname)
        tgt = tcache[tname]
        out = _load(cache / str(r["swap_png"]))
        pid = int(rng.integers(0, 1 << wm.ID_BITS))
        t = time.process_time()
        marked = pv.mark_faces(out, tgt, [np.array(r["landmarks"], np.float32)], pid,
                               lambda rgb: api.analyze(rgb, mesh=False, identity=False))
        rec: dict[str, object] = {"swap": f"{r['target']}/{r['face']}<-{r['source']} ({r['face_width']:.0f}px)",
                                  "embed_cpu_s": time.process_time() - t}
        region = pv.changed_region(out, tgt)
        assert np.array_equal(marked[~region], out[~region]), "watermark touched a pixel outside the face"
        rec["psnr"] = wm.psnr(marked, out, region)
        for a in attacks:
            img = ATTACKS[a](marked)
            t = time.process_time()
            faces = api.analyze(img, mesh=False, identity=False)
            hits = wm.detect(img, faces)
            rec[a] = {"z": best_z(img, faces) if not hits else max(h.z for h in hits), "found": bool(hits),
                      "payload": any(h.payload_id == pid for h in hits),
                      "wrong": sum(h.payload_id is not None and h.payload_id != pid for h in hits),
                      "detect_cpu_s": time.process_time() - t}
        records.append(rec)
        if progress is not None:
            progress.write_text(json.dumps(records))
    return records


def summary(records: list[dict], attacks: list[str], thr: float) -> dict[str, object]:
    """Detection at z ≥ ``thr``, payload, z, PSNR and CPU times over the per-swap records (of one run or
    merged shards; records measured with a lower ``--threshold`` can be summarised at a higher one)."""
    n = len(records)
    ps = np.array([r["psnr"] for r in records])
    hit = {a: [r[a]["found"] and r[a]["z"] >= thr for r in records] for a in attacks}
    return {
        "swaps": n,
        "threshold": thr,
        "detection": {a: sum(hit[a]) / n for a in attacks},
        "payload": {a: sum(r[a]["payload"] and h for r, h in zip(records, hit[a], strict=True)) / n for a in attacks},
        "z_median": {a: float(np.median([r[a]["z"] for r in records])) for a in attacks},
        "wrong_id_hits": {a: sum(r[a]["wrong"] * h for r, h in zip(records, hit[a], strict=True)) for a in attacks},
        "psnr_face_db": {"min": float(ps.min()), "p5": float(np.percentile(ps, 5)), "median": float(np.median(ps)),
                         "share_ge_40": float((ps >= 40).mean())},
        "embed_cpu_seconds_median": float(np.median([r["embed_cpu_s"] for r in records])),
        "detect_cpu_seconds_median": float(np.median([r[a]["detect_cpu_s"] for r in records for a in attacks])),
        "misses": {a: [r["swap"] for r, h in zip(records, hit[a], strict=True) if not h] for a in attacks},
    }


def negative_images(cache: Path, rows: list[dict[str, object]]):  # noqa: ANN201 - generator of (label, rgb)
    sd = samples_dir()
    for p in sorted(sd.glob("*")):
        if p.suffix.lower() in (".jpg", ".png"):
            rgb = read_image(p).rgb
            for v, fn in NEGATIVE_VARIANTS.items():
                yield f"{p.name} ({v})", fn(rgb)
    for clip in CLIPS:
        if (sd / clip).exists():
            for i, rgb in enumerate(read_frames(sd / clip)):
                yield f"{clip}#{i}", rgb
    for r in rows:
        yield f"unmarked swap {r['swap_png']}", _load(cache / str(r["swap_png"]))


def best_z(rgb: np.ndarray, faces: list) -> float:
    """The largest pilot z over the faces of an image (the detector's statistic, before its threshold)."""
    thr = wm.Z_THRESHOLD
    wm.Z_THRESHOLD = -np.inf
    try:
        return max((h.z for h in wm.detect(rgb, faces)), default=float("-inf"))
    finally:
        wm.Z_THRESHOLD = thr


@dataclass
class CachedFace:
    """The part of an analysed face the watermark detector reads."""

    index: int
    landmarks: np.ndarray


def _negative_faces(cache: Path) -> tuple[Path, dict[str, list[list]]]:
    """Faces found on the untouched images, cached (they do not depend on the watermark's design)."""
    path = cache / "negative_faces.json"
    return path, json.loads(path.read_text()) if path.exists() else {}


def measure_negatives(cache: Path, rows: list[dict[str, object]], limit: int | None,
                      progress: Path | None = None) -> dict[str, object]:
    n = faces = 0
    fps: list[str] = []
    zs: list[float] = []
    fpath, known = _negative_faces(cache)
    for label, rgb in negative_images(cache, rows):
        if n and n % 25 == 0:
            log.info("negatives: %d images, %d false positives so far", n, len(fps))
            fpath.write_text(json.dumps(known))
        if label not in known:
            known[label] = [f.landmarks.tolist() for f in api.analyze(rgb, mesh=False, identity=False)]
        faces_found = [CachedFace(i, np.array(lm, np.float32)) for i, lm in enumerate(known[label])]
        faces += len(faces_found)
        z = best_z(rgb, faces_found)
        zs.append(z)
        if z >= wm.Z_THRESHOLD:
            fps.append(label)
        n += 1
        if progress is not None:
            zr = [round(float(v), 3) for v in zs]
            progress.write_text(json.dumps({"images": n, "false_positives": fps, "z": zr}))
        if limit and n >= limit:
            break
    fpath.write_text(json.dumps(known))
    finite = [z for z in zs if np.isfinite(z)]
    return {"images": n, "faces": faces, "false_positive_images": len(fps), "rate": len(fps) / max(n, 1),
            "false_positives": fps, "threshold": wm.Z_THRESHOLD, "z": [round(float(v), 3) for v in zs],
            "z_max": max(finite, default=None), "z_p99": float(np.percentile(finite, 99)) if finite else None,
            "null_fit": gumbel_fit(finite)}


def gumbel_fit(z: list[float]) -> dict[str, float]:
    """A Gumbel (maximum-type) law fitted by moments to the null statistic — the largest z over the
    alignment search, per image — and what it says about the threshold: its tail probability at
    ``Z_THRESHOLD``, and the z whose tail probability is 1e-3 and 1e-4."""
    a = np.asarray(z, np.float64)
    if len(a) < 2:
        return {}
    beta = float(a.std(ddof=1) * np.sqrt(6) / np.pi)
    mu = float(a.mean() - 0.5772156649 * beta)

    def at(p: float) -> float:
        return mu - beta * float(np.log(-np.log1p(-p)))

    tail = float(-np.expm1(-np.exp(-(wm.Z_THRESHOLD - mu) / beta)))
    return {"mu": mu, "beta": beta, "tail_at_threshold": tail, "z_at_1e-3": at(1e-3), "z_at_1e-4": at(1e-4)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "faceweave-wm-cache")
    ap.add_argument("--limit", type=int, default=None, help="use only the first N swaps (quick runs)")
    ap.add_argument("--negatives", type=int, default=None, help="stop the false-positive set after N images")
    ap.add_argument("--attacks", default=",".join(DEFAULT_ATTACKS), help="comma-separated subset of "
                    + ",".join(ATTACKS))
    ap.add_argument("--skip-positives", action="store_true")
    ap.add_argument("--neg-progress", type=Path, default=None, help="rewrite partial negative figures here")
    ap.add_argument("--progress", type=Path, default=None, help="rewrite partial positive figures here after each swap")
    ap.add_argument("--skip-negatives", action="store_true")
    ap.add_argument("--json", type=Path, default=None, help="write the figures here")
    ap.add_argument("--shard", default="0/1", help="K/N: measure every N-th swap from the K-th (run N at once)")
    ap.add_argument("--records", type=Path, default=None, help="write the per-swap records here (for --merge)")
    ap.add_argument("--merge", type=Path, nargs="*", default=None, help="summarise these --records files instead")
    ap.add_argument("--threshold", type=float, default=None,
                    help="detect at this z (default the detector's Z_THRESHOLD); summaries use the larger of the two")
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    for noisy in ("faceweave", "absl"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    thr = wm.Z_THRESHOLD
    if a.threshold is not None:
        wm.Z_THRESHOLD = a.threshold
    rows = build_swaps(a.cache, a.limit)
    attacks = [x for x in a.attacks.split(",") if x]
    res: dict[str, object] = {}
    if a.merge:
        records = [r for f in a.merge for r in json.loads(f.read_text())]
        attacks = [x for x in attacks if all(x in r for r in records)]
    elif not a.skip_positives:
        k, n = (int(v) for v in a.shard.split("/"))
        order = np.random.default_rng(1).permutation(len(rows))[k::n]  # a partial run is still a fair sample
        records = measure_positives(a.cache, [rows[i] for i in order], attacks, a.progress, seed=k)
        if a.records:
            a.records.write_text(json.dumps(records))
    if a.merge or not a.skip_positives:
        res["positives"] = pos = summary(records, attacks, max(thr, wm.Z_THRESHOLD))
        print(f"swaps: {pos['swaps']}  (faces {min(r['face_width'] for r in rows):.0f}–"
              f"{max(r['face_width'] for r in rows):.0f} px wide)")
        for k, v in pos["detection"].items():  # type: ignore[union-attr]
            print(f"  detection after {k:<12} {100 * v:6.2f} %   payload read {100 * pos['payload'][k]:6.2f} %"  # type: ignore[index]
                  f"   wrong-id payloads {pos['wrong_id_hits'][k]}")  # type: ignore[index]
        ps = pos["psnr_face_db"]
        print(f"  PSNR inside the face: min {ps['min']:.2f} dB, 5th pct {ps['p5']:.2f}, "  # type: ignore[index]
              f"median {ps['median']:.2f}, share ≥ 40 dB {100 * ps['share_ge_40']:.1f} %")  # type: ignore[index]
        print(f"  CPU time (process time, loaded machine): embed {pos['embed_cpu_seconds_median'] * 1000:.0f} ms "
              f"(incl. re-analysis), analyse + detect {pos['detect_cpu_seconds_median'] * 1000:.0f} ms per image "
              "(median)")
    if not a.skip_negatives and not a.merge:
        res["negatives"] = measure_negatives(a.cache, rows, a.negatives, a.neg_progress)
    if "negatives" in res:
        ng = res["negatives"]
        print(f"false positives: {ng['false_positive_images']} of {ng['images']} untouched images "  # type: ignore[index]
              f"({ng['faces']} faces) = {100 * ng['rate']:.3f} %; detector z: max {ng['z_max']:.2f}, "  # type: ignore[index]
              f"99th pct {ng['z_p99']:.2f}, threshold {ng['threshold']}")  # type: ignore[index]
        fit = ng["null_fit"]  # type: ignore[index]
        if fit:
            print(f"  null fit (Gumbel, per image): mu {fit['mu']:.2f}, beta {fit['beta']:.3f}; tail probability "
                  f"at the threshold {fit['tail_at_threshold']:.1e}; z at 1e-3 {fit['z_at_1e-3']:.2f}, at 1e-4 "
                  f"{fit['z_at_1e-4']:.2f}")
    if a.json:
        a.json.write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
