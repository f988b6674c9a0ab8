"""Evaluation reports: ``report.json``, ``report.md`` (Table 1 layout), a contact sheet and bar plots.

Files written into the report folder:

- ``report.json``: everything measured, per pair and summarised (see :func:`faceweave.eval.run.build_report`);
- ``report.md``: the summary laid out like RSGAN's Table 1 (one row per engine, mean ± std), a second
  table with the other metrics, the failures with their reasons;
- ``contact_sheet.png``: the first pairs, one row each: source | target | result of every engine;
- ``plots/<metric>.png``: one bar chart per metric, engines side by side, std as error bars.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from faceweave.eval.photos import Photo
from faceweave.eval.results import METRICS, EngineResult
from faceweave.media.image import write_image

log = logging.getLogger(__name__)

TILE = 192  # contact-sheet tile side in pixels
LABEL_H = 24

# Table 1's columns, in the paper's order: (metric key, header).
TABLE1_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id_source", "Identity dist. ↓ Swap"),
    ("recon_abs", "Abs. error ↓ Recon."),
    ("swap2_abs", "Abs. error ↓ Swap ×2"),
    ("recon_msssim", "MS-SSIM ↑ Recon."),
    ("swap2_msssim", "MS-SSIM ↑ Swap ×2"),
)
EXTRA_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id_target", "Identity dist. to target"),
    ("yaw_diff", "Δ yaw ° (abs)"),
    ("pitch_diff", "Δ pitch ° (abs)"),
    ("roll_diff", "Δ roll ° (abs)"),
    ("pose_error_net", "Pose error ° (Hopenet)"),
    ("id_source_512", "Id. dist. to source, 512-D"),
    ("id_source_192", "Id. dist. to source, MFN-192"),
    ("id_target_192", "Id. dist. to target, MFN-192"),
    ("expr_diff", "Δ expression (EAR+MAR)"),
    ("ms_per_swap", "ms / swap"),
)


def _fmt(stat: dict[str, object] | None, digits: int = 3) -> str:
    if not stat or stat.get("mean") is None:
        return "—"
    return f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}"


def markdown_table(report: dict[str, object]) -> str:
    """The Table 1 layout: one row per engine, mean ± std (population std, n = pairs that scored)."""
    engines: dict[str, dict[str, object]] = report["engines"]  # type: ignore[assignment]
    head = ["Engine", *[h for _, h in TABLE1_COLUMNS], "Success", "Retrieval"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    for name, e in engines.items():
        s: dict[str, object] = e["summary"]  # type: ignore[assignment]
        cells = [name, *[_fmt(s.get(k)) for k, _ in TABLE1_COLUMNS]]  # type: ignore[arg-type]
        cells.append(f"{100 * s['success_rate']:.1f} % ({s['succeeded']}/{s['pairs']})" if s["pairs"] else "—")
        cells.append(f"{100 * s['retrieval']:.1f} % (n={s['retrieval_n']})" if s["retrieval"] is not None else "—")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def extra_table(report: dict[str, object]) -> str:
    engines: dict[str, dict[str, object]] = report["engines"]  # type: ignore[assignment]
    head = ["Engine", *[h for _, h in EXTRA_COLUMNS], "Nearer source (dlib)", "Nearer source (MobileFaceNet)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    for name, e in engines.items():
        s: dict[str, object] = e["summary"]  # type: ignore[assignment]
        cells = [name]
        for k, _ in EXTRA_COLUMNS:
            cells.append(_fmt(s.get(k), 3 if k.startswith("id") or k == "expr_diff" else 1))  # type: ignore[arg-type]
        for k in ("nearer_source", "nearer_source_192"):
            v = s.get(k)
            cells.append(f"{100 * v:.0f} % (n={s.get(k + '_n')})" if isinstance(v, float) else "—")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown_report(report: dict[str, object], files: dict[str, str]) -> str:
    """The whole ``report.md``."""
    engines: dict[str, dict[str, object]] = report["engines"]  # type: ignore[assignment]
    photos: list[dict[str, object]] = report["photos"]  # type: ignore[assignment]
    n_ids = len({p["identity"] for p in photos})
    out = [
        "# faceweave evaluation",
        "",
        f"{len(report['pairs'])} ordered pairs (source → target) of different identities, seed {report['seed']}, "  # type: ignore[arg-type]
        f"from {len(photos)} photos ({n_ids} identities, {report['identity_labels']}) in `{report['images']}`; "
        f"blend `{report['options']['blend']}`. Aligned crops {report['crop_size'][0]}×{report['crop_size'][1]}. "  # type: ignore[index]
        f"Run took {report['seconds']} s on {report['machine']}.",
        "",
        "## Table 1 layout (RSGAN, Natsume et al. 2018 — identity preservation and swap consistency)",
        "",
        markdown_table(report),
        "",
        "Identity distance: ‖ê_a − ê_b‖² of dlib 128-D embeddings (OpenFace in the paper), swap vs source. "
        "Abs. error in [0, 1] and MS-SSIM on the aligned face crop; Swap ×2 = the target's face swapped back "
        "onto the swap, vs the target. Recon. only for engines with `reconstruct()`. Success = pairs with an "
        "output / pairs attempted. Retrieval = swaps nearer their source than every photo of another identity.",
        "",
        "## Pose kept and speed",
        "",
        extra_table(report),
        "",
        "Pose: yaw/pitch/roll by `cv2.solvePnP` on the 68 landmarks (generic 3-D face), swap vs target. "
        "Pose error (FaceShifter's protocol): L2 distance between the (yaw, pitch, roll) of swap and target "
        "by the Hopenet pose net (`faceweave.nets`). Id. dist. 512-D / MFN-192: the same distance as Table 1 "
        "on the two converted identity nets (ArcFace-aligned 112 px crops); the 512-D net may be a training "
        "loss of learned engines, so read it next to dlib and MFN-192. "
        "ms / swap: the engine call only (analysis excluded), 1 process on this machine. Δ expression: "
        "|Δ eye aspect ratio| + |Δ inner-mouth aspect ratio| of the 68 landmarks, swap vs target (noise ≈ 0.02). "
        "Nearer source: share of pairs whose swap is nearer its source than its target (dlib; MFN-192).",
        "",
    ]
    fails = [(n, f) for n, e in engines.items() for f in e["failures"]]  # type: ignore[attr-defined]
    errs = [(n, f) for n, e in engines.items() for f in e["metric_errors"]]  # type: ignore[attr-defined]
    out += ["## Failures", ""]
    if not fails and not errs:
        out += ["None.", ""]
    for n, f in fails:
        out.append(f"- `{n}` {f['source']} → {f['target']}: failed at **{f['stage']}**: {f['reason']}")
    for n, f in errs:
        rest = "; ".join(f"{k}: {v}" for k, v in f.items() if k not in ("source", "target"))
        out.append(f"- `{n}` {f['source']} → {f['target']}: output made, metric not computed ({rest})")
    out += ["", "## Files", ""]
    out += [f"- [{label}]({path})" for label, path in files.items()]
    return "\n".join(out) + "\n"


def _tile(rgb: np.ndarray | None, box: np.ndarray | None, label: str = "") -> np.ndarray:
    """A TILE×TILE square around ``box`` (1.8× its size), or a grey 'failed' tile."""
    t = np.full((TILE, TILE, 3), 96, np.uint8)
    if rgb is not None and box is not None:
        x0, y0, x1, y1 = (float(v) for v in box)
        cx, cy, side = (x0 + x1) / 2, (y0 + y1) / 2, 1.8 * max(x1 - x0, y1 - y0, 8.0)
        s = TILE / side
        m = np.array([[s, 0, TILE / 2 - s * cx], [0, s, TILE / 2 - s * cy]], np.float64)
        t = cv2.warpAffine(rgb, m, (TILE, TILE), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_CONSTANT)
    elif label:
        cv2.putText(t, label, (10, TILE // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
    return t


def _header(text: str, width: int) -> np.ndarray:
    h = np.full((LABEL_H, width, 3), 255, np.uint8)
    text = text[: max(width // 10, 8)]
    cv2.putText(h, text, (6, LABEL_H - 7), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return h


def contact_sheet(
    photos: Sequence[Photo], pairs: Sequence[tuple[int, int]], results: Sequence[EngineResult]
) -> np.ndarray:
    """One row per first pair: source | target | result of each engine (face-centred tiles)."""
    n = max((len(r.sheet) for r in results), default=0)
    cols = ["source", "target", *[r.name for r in results]]
    rows = [np.hstack([_header(c, TILE) for c in cols])]
    for k in range(min(n, len(pairs))):
        src, tgt = photos[pairs[k][0]], photos[pairs[k][1]]
        tb = tgt.face.box if tgt.face is not None else None
        tiles = [
            _tile(src.rgb, src.face.box if src.face is not None else None, "no face"),
            _tile(tgt.rgb, tb, "no face"),
        ]
        for r in results:
            img = r.sheet[k] if k < len(r.sheet) else None
            tiles.append(_tile(img, tb if img is not None else None, "failed"))
        rows.append(_header(f"{src.name} -> {tgt.name}", TILE * len(cols)))
        rows.append(np.hstack(tiles))
    return np.vstack(rows)


def bar_plots(report: dict[str, object], folder: Path) -> dict[str, Path]:
    """One bar chart per metric (mean with std error bars, one bar per engine); returns key → file."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    engines: dict[str, dict[str, object]] = report["engines"]  # type: ignore[assignment]
    names = list(engines)
    items: list[tuple[str, str, list[float | None], list[float]]] = []
    for key, (title, lower) in METRICS.items():
        means = [engines[n]["summary"][key]["mean"] for n in names]  # type: ignore[index]
        stds = [engines[n]["summary"][key]["std"] or 0.0 for n in names]  # type: ignore[index]
        items.append((key, f"{title} ({'lower' if lower else 'higher'} is better)", means, stds))
    rate = [engines[n]["summary"]["success_rate"] for n in names]  # type: ignore[index]
    items.append(("success_rate", "Success rate (higher is better)", rate, [0.0] * len(names)))
    ret = [engines[n]["summary"]["retrieval"] for n in names]  # type: ignore[index]
    items.append(("retrieval", "Identity retrieval (higher is better)", ret, [0.0] * len(names)))
    out: dict[str, Path] = {}
    for key, title, means, stds in items:
        fig, ax = plt.subplots(figsize=(max(3.0, 1.2 * len(names) + 1.5), 3.2), dpi=100)
        xs = np.arange(len(names))
        vals = [np.nan if m is None else m for m in means]
        ax.bar(xs, vals, yerr=stds, capsize=4, color="#4C72B0")
        for x, v in zip(xs, vals, strict=True):
            ax.text(x, 0, "n/a" if np.isnan(v) else f"{v:.3g}", ha="center", va="bottom", fontsize=8, color="white"
                    if not np.isnan(v) else "black")
        ax.set_xticks(xs, names)
        ax.set_title(title, fontsize=9)
        fig.tight_layout()
        path = folder / f"{key}.png"
        fig.savefig(path)
        plt.close(fig)
        out[key] = path
    return out


def _sheet_provenance(results: Sequence[EngineResult]) -> object:
    """trainedAlgorithmicMedia when any engine on the sheet is a learned one, else compositeSynthetic."""
    from faceweave.engines.base import engine_classes
    from faceweave.media.provenance import Provenance

    classes = engine_classes()
    learned = any(getattr(classes.get(r.name), "learned", False) for r in results)
    return Provenance(engine=",".join(r.name for r in results), learned=learned)


def write_report(
    out_dir: str | Path,
    report: dict[str, object],
    photos: Sequence[Photo],
    pairs: Sequence[tuple[int, int]],
    results: Sequence[EngineResult],
) -> dict[str, Path]:
    """Write every report file into ``out_dir`` (created if needed); returns name → path."""
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    sheet = contact_sheet(photos, pairs, results)
    files["contact sheet"] = write_image(d / "contact_sheet.png", sheet,  # holds swapped faces: tagged synthetic
                                         provenance=_sheet_provenance(results))
    plots = bar_plots(report, d / "plots")
    for k, p in plots.items():
        files[f"plot: {k}"] = p
    j = d / "report.json"
    tmp = j.with_suffix(".json.part")
    tmp.write_text(json.dumps(report, indent=1, ensure_ascii=False))
    tmp.replace(j)
    files["report.json"] = j
    md = d / "report.md"
    rel = {label: str(p.relative_to(d)) for label, p in files.items()}
    md.write_text(markdown_report(report, rel))
    files["report.md"] = md
    log.info("report written to %s", d)
    return files
