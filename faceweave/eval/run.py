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

Engines with a ``reconstruct(aligned_rgb) -> aligned_rgb`` method (the learned ones) are also scored
on reconstruction of the aligned crop of every photo used in the pairs.
"""

from __future__ import annotations

import logging
import math
import platform
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from faceweave.analysis import analyze
from faceweave.analysis.align import align_face
from faceweave.analysis.face import Face
from faceweave.analysis.identity import embedding
from faceweave.analysis.landmarks import dense_mesh, landmarks_68
from faceweave.engines.base import Engine, SwapOptions, get_engine
from faceweave.eval import metrics as M
from faceweave.media.image import read_image

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
# Two photos whose identity distance is below this are taken as the same person when no identity
# list is given. dlib's own rule (Euclidean 0.6 on raw descriptors of norm ≈ 1.4) is ≈ 0.18 on
# DESIGN.md §5's normalised squared distance; that merges different East Asian subjects of the
# sample photos (0.13–0.21 apart), so the default is stricter. Pass an identity list for real sets.
SAME_IDENTITY_THRESHOLD = 0.10

# Per-pair metric keys, in report order, with display names and whether lower is better.
METRICS: dict[str, tuple[str, bool]] = {
    "id_source": ("Identity distance to source", True),
    "id_target": ("Identity distance to target", False),
    "recon_abs": ("Abs. error, Recon.", True),
    "swap2_abs": ("Abs. error, Swap ×2", True),
    "recon_msssim": ("MS-SSIM, Recon.", False),
    "swap2_msssim": ("MS-SSIM, Swap ×2", False),
    "yaw_diff": ("|Δ yaw| (deg)", True),
    "pitch_diff": ("|Δ pitch| (deg)", True),
    "roll_diff": ("|Δ roll| (deg)", True),
    "id_source_512": ("Identity distance to source, 512-D net", True),
    "id_source_192": ("Identity distance to source, MobileFaceNet-192", True),
    "pose_error_net": ("Pose error (deg), Hopenet", True),
    "ms_per_swap": ("ms per swap", True),
}


@dataclass
class Photo:
    """One photo of the evaluation folder and its largest face (None when analysis failed)."""

    name: str
    path: Path
    rgb: np.ndarray | None = None
    face: Face | None = None
    identity: str = ""
    error: str | None = None
    pose: tuple[float, float, float] | None = None
    pose_net: np.ndarray | None = None  # (3,) yaw, pitch, roll by the Hopenet pose net
    embedding192: np.ndarray | None = None  # MobileFaceNet-192 (the 512-D one is face.embedding512)


@dataclass
class PairResult:
    """What one engine did with one (source, target) pair."""

    engine: str
    source: str
    target: str
    ok: bool = False  # the engine produced an output
    stage: str | None = None  # where it stopped, when it did
    reason: str | None = None
    metric_errors: dict[str, str] = field(default_factory=dict)  # metrics that could not be computed
    ms_per_swap: float | None = None
    id_source: float | None = None
    id_target: float | None = None
    retrieved: bool | None = None
    yaw_diff: float | None = None
    pitch_diff: float | None = None
    roll_diff: float | None = None
    id_source_512: float | None = None  # same distance as id_source, on the faceweave.nets embeddings
    id_source_192: float | None = None
    pose_error_net: float | None = None  # ‖(yaw, pitch, roll)_swap − (…)_target‖₂ by the pose net (FaceShifter)
    swap2_abs: float | None = None
    swap2_msssim: float | None = None

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in d.items()}


@dataclass
class EngineResult:
    """All pairs of one engine, its reconstruction scores and the images for the contact sheet."""

    name: str
    pairs: list[PairResult] = field(default_factory=list)
    recon: dict[str, dict[str, float]] = field(default_factory=dict)  # photo → {"abs", "msssim"}
    recon_error: str | None = None  # why reconstruction was not scored
    sheet: list[np.ndarray | None] = field(default_factory=list)  # results of the first pairs


def list_images(folder: str | Path) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name."""
    d = Path(folder)
    if not d.is_dir():
        raise FileNotFoundError(f"{d}: not a folder")
    return sorted(p for p in d.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def read_identities(path: str | Path) -> dict[str, str]:
    """A "file identity" list, one photo per line (CelebA's ``identity_CelebA.txt`` format; commas work too)."""
    out: dict[str, str] = {}
    for line in Path(path).read_text().splitlines():
        parts = line.replace(",", " ").split()
        if len(parts) >= 2 and not line.lstrip().startswith("#"):
            out[parts[0]] = parts[1]
    return out


def load_photos(paths: Sequence[Path], *, mesh: bool, desc: str = "analyse") -> list[Photo]:
    """Read and analyse every photo; a photo that cannot be read or has no face keeps its error."""
    photos: list[Photo] = []
    for p in tqdm(paths, desc=desc, unit="photo", leave=False):
        ph = Photo(name=p.name, path=p)
        try:
            ph.rgb = read_image(p).rgb
            faces = analyze(ph.rgb, mesh=mesh, identity=True)
            if not faces:
                ph.error = "no face found"
            else:
                ph.face = faces[0]
                h, w = ph.rgb.shape[:2]
                ph.pose = M.head_pose(ph.face.landmarks, (w, h))
                ph.embedding192, ph.pose_net = M.net_scores(ph.rgb, ph.face.landmarks)
        except Exception as e:  # noqa: BLE001 - recorded, not fatal
            ph.error = f"{type(e).__name__}: {e}"
        if ph.error:
            log.warning("%s: %s", p.name, ph.error)
        photos.append(ph)
    return photos


def assign_identities(
    photos: Sequence[Photo], known: dict[str, str] | None = None, threshold: float = SAME_IDENTITY_THRESHOLD
) -> None:
    """Give every photo an identity label: from ``known`` when listed, else by clustering embeddings.

    Clustering links photos whose identity distance is below ``threshold`` (single linkage) and
    names each cluster after its first photo. Photos without a face get their own label.
    """
    known = known or {}
    unlabelled = [p for p in photos if p.name not in known and p.face is not None and p.face.embedding is not None]
    parent = {p.name: p.name for p in unlabelled}

    def root(n: str) -> str:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for i, a in enumerate(unlabelled):
        for b in unlabelled[i + 1 :]:
            if M.identity_distance(a.face.embedding, b.face.embedding) < threshold:  # type: ignore[union-attr,arg-type]
                parent[root(b.name)] = root(a.name)
    for p in photos:
        if p.name in known:
            p.identity = str(known[p.name])
        elif p.name in parent:
            p.identity = "cluster:" + root(p.name)
        else:
            p.identity = "photo:" + p.name


def draw_pairs(photos: Sequence[Photo], n: int, seed: int) -> list[tuple[int, int]]:
    """``n`` distinct ordered pairs (source, target) of photos of different identities, seeded.

    All photos take part, faceless ones too (their pairs fail at analysis, as a swap pipeline would).
    Fewer pairs are returned, with a warning, when the folder does not have ``n`` of them.
    """
    cands = [
        (i, j)
        for i in range(len(photos))
        for j in range(len(photos))
        if i != j and photos[i].identity != photos[j].identity
    ]
    rng = random.Random(seed)
    if n > len(cands):
        log.warning("only %d ordered pairs of different identities available (asked for %d)", len(cands), n)
        n = len(cands)
    return rng.sample(cands, n)


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
    try:
        h, w = tgt.rgb.shape[:2]
        pose_res = M.head_pose(res_lm, (w, h))
        pose_tgt = tgt.pose if tgt.pose is not None else M.head_pose(tgt.face.landmarks, (w, h))
        r.yaw_diff, r.pitch_diff, r.roll_diff = M.pose_difference(pose_res, pose_tgt)
    except Exception as e:  # noqa: BLE001
        r.metric_errors["pose"] = _reason(e)
    try:
        e512, e192, pose = M.net_scores(result, res_lm, with_512=True)
        if src.face.embedding512 is not None:
            r.id_source_512 = M.identity_distance(e512, src.face.embedding512)
        if src.embedding192 is not None:
            r.id_source_192 = M.identity_distance(e192, src.embedding192)
        if tgt.pose_net is not None:
            r.pose_error_net = float(np.linalg.norm(pose - tgt.pose_net))
    except Exception as e:  # noqa: BLE001
        r.metric_errors["nets"] = _reason(e)

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


def reconstruction_scores(engine: Engine, photos: Sequence[Photo]) -> dict[str, dict[str, float]]:
    """Abs error and MS-SSIM of ``engine.reconstruct`` on each photo's aligned face crop."""
    rec = getattr(engine, "reconstruct")  # noqa: B009 - only called when present
    out: dict[str, dict[str, float]] = {}
    for ph in photos:
        if ph.face is None or ph.rgb is None:
            continue
        crop, _ = align_face(ph.rgb, ph.face.landmarks, M.CROP_SIZE)
        try:
            x = np.asarray(rec(crop))
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
        if callable(getattr(eng, "reconstruct", None)):
            er.recon = reconstruction_scores(eng, [photos[i] for i in used])
        else:
            er.recon_error = "engine has no reconstruct(); not a learned auto-encoder"
        results.append(er)

    report = build_report(photos, pairs, results, images=images, seed=seed, options=options,
                          seconds=time.time() - t_start, threshold=threshold, identities_given=bool(identities))
    return report, photos, pairs, results


def _summary(er: EngineResult) -> dict[str, object]:
    n = len(er.pairs)
    ok = sum(p.ok for p in er.pairs)
    retrieved = [p.retrieved for p in er.pairs if p.retrieved is not None]
    s: dict[str, object] = {
        "pairs": n,
        "succeeded": ok,
        "success_rate": M.success_rate(ok, n),
        "retrieval": (sum(retrieved) / len(retrieved)) if retrieved else None,
        "retrieval_n": len(retrieved),
    }
    for key in METRICS:
        if key.startswith("recon_"):
            vals = [v["abs" if key == "recon_abs" else "msssim"] for v in er.recon.values()]
        else:
            vals = [getattr(p, key) for p in er.pairs]
        s[key] = M.summarize(vals)
    return s


def _clean(x: object) -> object:
    """JSON-safe: NaN → None, numpy scalars → Python."""
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def build_report(
    photos: Sequence[Photo],
    pairs: Sequence[tuple[int, int]],
    results: Sequence[EngineResult],
    *,
    images: str | Path,
    seed: int,
    options: SwapOptions,
    seconds: float,
    threshold: float,
    identities_given: bool,
) -> dict[str, object]:
    """The content of ``report.json``."""
    import faceweave

    engines: dict[str, object] = {}
    for er in results:
        engines[er.name] = {
            "summary": _summary(er),
            "failures": [
                {"source": p.source, "target": p.target, "stage": p.stage, "reason": p.reason}
                for p in er.pairs
                if p.stage
            ],
            "metric_errors": [
                {"source": p.source, "target": p.target, **p.metric_errors} for p in er.pairs if p.metric_errors
            ],
            "reconstruction": er.recon if er.recon else None,
            "reconstruction_skipped": er.recon_error,
            "pairs": [p.to_dict() for p in er.pairs],
        }
    rep = {
        "faceweave": faceweave.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "seconds": round(seconds, 1),
        "machine": platform.platform(),
        "images": str(images),
        "seed": seed,
        "options": {
            "blend": options.blend, "colour_transfer": options.colour_transfer, "keep_mouth": options.keep_mouth
        },
        "crop_size": list(M.CROP_SIZE),
        "identity_labels": "given" if identities_given else f"clustered (distance < {threshold})",
        "photos": [
            {
                "name": p.name,
                "identity": p.identity,
                "face": p.face is not None,
                "error": p.error,
                "pose": None if p.pose is None else [round(v, 2) for v in p.pose],
            }
            for p in photos
        ],
        "pairs": [[photos[i].name, photos[j].name] for i, j in pairs],
        "engines": engines,
    }
    return _clean(rep)  # type: ignore[return-value]
