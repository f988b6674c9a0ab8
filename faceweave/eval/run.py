"""Evaluation runs: every engine on the same random ordered pairs of photos, RSGAN's Table 1 metrics.

For each photo of the folder: read, analyse, keep the largest face, compute its identity
embedding. Pairs (source, target) are drawn once, from a seeded RNG, among photos of *different*
identities, and every engine sees the same pairs. Per engine and pair, in stages (a failure stops
that pair for that engine and is recorded with its stage and reason, never fatal):

1. ``swap``: ``engine.swap_face(source, source_face, target, target_face)``; its time is "ms per swap";
2. ``refit``: dlib's 68 landmarks re-fitted on the result inside the target's face box, and the
   result's identity embedding there; from them identity distance to the source (and to the target),
   identity retrieval, and pose kept (yaw/pitch/roll of the result vs the target);
3. ``swap-back``: the target's own face swapped back onto the result; the aligned face crop of that
   vs the target's gives swap-twice abs error and MS-SSIM (both crops cut with the target's
   alignment, so landmark noise does not enter).

Learned engines (``engine.learned``; their ``reconstruct(aligned_rgb, options) -> aligned_rgb``) are also scored
on reconstruction of the aligned crop of every photo used in the pairs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from faceweave.analysis.align import align_face
from faceweave.analysis.face import Face
from faceweave.analysis.identity import embedding
from faceweave.analysis.landmarks import dense_mesh, landmarks_68
from faceweave.engines.base import Engine, SwapOptions, get_engine
from faceweave.eval import metrics as M
from faceweave.eval.photos import (
    SAME_IDENTITY_THRESHOLD,
    Photo,
    assign_identities,
    draw_pairs,
    list_images,
    load_photos,
    read_identities,
)
from faceweave.eval.results import METRICS, EngineResult, PairResult
from faceweave.eval.summary import build_report

__all__ = ["METRICS", "SAME_IDENTITY_THRESHOLD", "EngineResult", "PairResult", "Photo", "assign_identities",
           "build_report", "draw_pairs", "evaluate_pair", "list_images", "load_photos", "read_identities",
           "reconstruction_scores", "run_evaluation"]

log = logging.getLogger(__name__)


def _result_face(result: np.ndarray, target_face: Face, needs_mesh: bool) -> tuple[Face, np.ndarray]:
    """The result's face, re-fitted inside the target's face box: (Face with landmarks/embedding, 68 pts)."""
    lm = landmarks_68(result, target_face.box)
    emb = embedding(result, lm, target_face.box)
    mesh = dense_mesh(result, target_face.box) if needs_mesh else None
    face = Face(index=0, box=target_face.box.copy(), score=1.0, landmarks=lm, mesh=mesh, embedding=emb)
    return face, lm


def _reason(e: BaseException) -> str:
    msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {msg}" if msg else type(e).__name__


def _net_scores(r: PairResult, result: np.ndarray, res_lm: np.ndarray, src: Photo, tgt: Photo) -> None:
    """Expression kept, and identity / pose by the converted nets (extra columns: failures are recorded)."""
    assert src.face is not None and tgt.face is not None
    try:
        r.expr_diff = M.expression_difference(res_lm, tgt.face.landmarks)
    except Exception as e:  # noqa: BLE001
        r.metric_errors["expression"] = _reason(e)
    try:
        e512, e192, pose = M.net_scores(result, res_lm, with_512=True)
        if src.face.embedding512 is not None:
            r.id_source_512 = M.identity_distance(e512, src.face.embedding512)
        if src.embedding192 is not None and tgt.embedding192 is not None:
            r.id_source_192 = M.identity_distance(e192, src.embedding192)
            r.id_target_192 = M.identity_distance(e192, tgt.embedding192)
            r.nearer_source_192 = r.id_source_192 < r.id_target_192
        if tgt.pose_net is not None:
            r.pose_error_net = float(np.linalg.norm(pose - tgt.pose_net))
    except Exception as e:  # noqa: BLE001
        r.metric_errors["nets"] = _reason(e)


def evaluate_pair(
    engine: Engine, src: Photo, tgt: Photo, others: Sequence[np.ndarray], options: SwapOptions
) -> tuple[PairResult, np.ndarray | None]:
    """Every per-pair metric of one engine on one pair; returns the record and the swap (or None)."""
    r = PairResult(engine=engine.name, source=src.name, target=tgt.name)
    for ph, role in ((src, "source"), (tgt, "target")):
        if ph.face is None or ph.rgb is None:
            r.stage, r.reason = "analysis", f"{role} {ph.name}: {ph.error or 'no face'}"
            return r, None
    assert src.rgb is not None and tgt.rgb is not None and src.face is not None and tgt.face is not None
    if engine.needs_mesh and (src.face.mesh is None or tgt.face.mesh is None):
        which = "source" if src.face.mesh is None else "target"
        r.stage, r.reason = "analysis", f"{which}: no dense mesh fitted"
        return r, None
    t0 = time.perf_counter()
    try:
        result = engine.swap_face(src.rgb, src.face, tgt.rgb, tgt.face, options)
    except Exception as e:  # noqa: BLE001 - a failed pair is recorded, not fatal
        r.stage, r.reason = "swap", _reason(e)
        return r, None
    r.ms_per_swap = 1000.0 * (time.perf_counter() - t0)
    if not isinstance(result, np.ndarray) or result.shape != tgt.rgb.shape or result.dtype != np.uint8:
        got = f"{getattr(result, 'dtype', type(result).__name__)} {getattr(result, 'shape', '')}"
        r.stage, r.reason = "swap", f"engine returned {got}, not the target's H×W×3 uint8"
        return r, None
    r.ok = True

    try:
        res_face, res_lm = _result_face(result, tgt.face, engine.needs_mesh)
    except Exception as e:  # noqa: BLE001
        r.stage, r.reason = "refit", _reason(e)
        return r, result
    assert res_face.embedding is not None and src.face.embedding is not None and tgt.face.embedding is not None
    r.id_source = M.identity_distance(res_face.embedding, src.face.embedding)
    r.id_target = M.identity_distance(res_face.embedding, tgt.face.embedding)
    r.retrieved = M.identity_retrieved(res_face.embedding, src.face.embedding, others)
    r.nearer_source = r.id_source < r.id_target
    _net_scores(r, result, res_lm, src, tgt)
    try:
        h, w = tgt.rgb.shape[:2]
        pose_res = M.head_pose(res_lm, (w, h))
        pose_tgt = tgt.pose if tgt.pose is not None else M.head_pose(tgt.face.landmarks, (w, h))
        r.yaw_diff, r.pitch_diff, r.roll_diff = M.pose_difference(pose_res, pose_tgt)
    except Exception as e:  # noqa: BLE001
        r.metric_errors["pose"] = _reason(e)

    try:
        if engine.needs_mesh and res_face.mesh is None:
            raise ValueError("no dense mesh fitted on the swapped result")
        back = engine.swap_face(tgt.rgb, tgt.face, result, res_face, options)
        a, b = M.aligned_pair(tgt.rgb, back, tgt.face.landmarks, M.CROP_SIZE)
        r.swap2_abs = M.abs_error(a, b)
        r.swap2_msssim = M.ms_ssim(a, b)
    except Exception as e:  # noqa: BLE001
        r.metric_errors["swap-back"] = _reason(e)
    return r, result


def _warm_up(engine: Engine, photos: Sequence[Photo], pairs: Sequence[tuple[int, int]], options: SwapOptions) -> None:
    """One untimed swap on the first usable pair, so one-off start-up costs stay out of "ms per swap"."""
    for i, j in pairs:
        s, t = photos[i], photos[j]
        if s.face is not None and t.face is not None and s.rgb is not None and t.rgb is not None:
            try:
                engine.swap_face(s.rgb, s.face, t.rgb, t.face, options)
            except Exception:  # noqa: BLE001 - the timed run records the failure
                pass
            return


def reconstruction_scores(
    engine: Engine, photos: Sequence[Photo], options: SwapOptions | None = None
) -> dict[str, dict[str, float]]:
    """Abs error and MS-SSIM of ``engine.reconstruct`` (a learned engine's) on each photo's aligned face crop."""
    out: dict[str, dict[str, float]] = {}
    for ph in photos:
        if ph.face is None or ph.rgb is None:
            continue
        crop, _ = align_face(ph.rgb, ph.face.landmarks, M.CROP_SIZE)
        try:
            x = np.asarray(engine.reconstruct(crop, options))
            if x.dtype != np.uint8:  # float in [0, 1] or [0, 255]
                gain = 255.0 if x.max() <= 1.0 else 1.0
                x = np.clip(np.round(x.astype(np.float64) * gain), 0, 255).astype(np.uint8)
            if x.shape != crop.shape:
                x = cv2.resize(x, M.CROP_SIZE, interpolation=cv2.INTER_AREA)
            out[ph.name] = {"abs": M.abs_error(crop, x), "msssim": M.ms_ssim(crop, x)}
        except Exception as e:  # noqa: BLE001
            log.warning("%s: reconstruction of %s failed: %s", engine.name, ph.name, _reason(e))
    return out


def run_evaluation(
    images: str | Path,
    engines: Sequence[str],
    n_pairs: int,
    *,
    seed: int = 0,
    options: SwapOptions | None = None,
    identities: dict[str, str] | None = None,
    threshold: float = SAME_IDENTITY_THRESHOLD,
    sheet_pairs: int = 4,
    progress: bool = True,
) -> tuple[dict[str, object], list[Photo], list[tuple[int, int]], list[EngineResult]]:
    """Score ``engines`` on ``n_pairs`` pairs drawn from the photos in ``images``.

    Returns (report dict for ``report.json``, photos, pairs as photo indices, per-engine results with
    the contact-sheet images). Nothing is written; :mod:`faceweave.eval.report` does that.
    """
    options = options or SwapOptions()
    engs = [get_engine(n) for n in engines]
    paths = list_images(images)
    if len(paths) < 2:
        raise ValueError(f"{images}: need at least 2 photos, found {len(paths)}")
    t_start = time.time()
    photos = load_photos(paths, mesh=any(e.needs_mesh for e in engs))
    assign_identities(photos, identities, threshold)
    pairs = draw_pairs(photos, n_pairs, seed)
    used = sorted({i for p in pairs for i in p})
    used_set = set(used)
    for k, ph in enumerate(photos):  # only the pairs' photos need their pixels from here on
        if k not in used_set:
            ph.rgb = None

    results: list[EngineResult] = []
    for eng in engs:
        er = EngineResult(name=eng.name)
        _warm_up(eng, photos, pairs, options)
        for k, (i, j) in enumerate(tqdm(pairs, desc=f"eval {eng.name}", unit="pair", disable=not progress)):
            src, tgt = photos[i], photos[j]
            others = [
                p.face.embedding
                for p in photos
                if p.identity != src.identity and p.face is not None and p.face.embedding is not None
            ]
            pr, img = evaluate_pair(eng, src, tgt, others, options)
            if not pr.ok or pr.stage:
                log.info("%s: %s → %s failed at %s: %s", eng.name, src.name, tgt.name, pr.stage, pr.reason)
            er.pairs.append(pr)
            if k < sheet_pairs:
                er.sheet.append(img)
        if getattr(eng, "learned", False):
            er.recon = reconstruction_scores(eng, [photos[i] for i in used], options)
        else:
            er.recon_error = "engine has no reconstruct(); not a learned auto-encoder"
        results.append(er)

    report = build_report(photos, pairs, results, images=images, seed=seed, options=options,
                          seconds=time.time() - t_start, threshold=threshold, identities_given=bool(identities))
    return report, photos, pairs, results
