"""Figures of the person engine (issue 16): other people's photos swapped into a trained person.

For every input face (photos of other people, none used in training; held-out frames of the
person's clip) the swap is scored by:

- retrieval (dlib 128-D, the independent judge): the output's nearest identity in a gallery of the
  sample people (Euclidean distance to each person's mean embedding) — share retrieved as the person;
- pose kept: |Δ yaw|, |Δ pitch|, |Δ roll| between input and output (Hopenet, ``faceweave.nets``);
- expression kept: eye openness (eye aspect ratio, dlib landmarks 36–47) and mouth openness
  (inner-lip gap 62–66 over mouth width 48–54), |Δ| and correlation input vs output.

Writes docs/person_figures.json and docs/person_sheet.jpg (input | output | raw network output).

    OMP_NUM_THREADS=1 .venv/bin/python scripts/person_figures.py [--person PATH]
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import cv2
import numpy as np

S = Path("/work/shared/samples")
ROOT = Path(__file__).resolve().parents[1]
CLIP = S / "pyfeat_WolfgangLanger_Pexels.mp4"
OTHERS = ["facerec_obama.jpg", "facerec_obama2.jpg", "facerec_obama3.jpg", "facerec_biden.jpg",
          "pyfeat_0-f1-su-ph.jpg", "pyfeat_0-f15-hao-ph.jpg", "pyfeat_15-f13-anc-ph.jpg", "skimage_astronaut.png"]
# gallery: one identity per sample person (mean dlib embedding of its photos / frames)
GALLERY = {
    "obama": ["facerec_obama.jpg", "facerec_obama2.jpg", "facerec_obama3.jpg"],
    "biden": ["facerec_biden.jpg"],
    "pyfeat_f1": ["pyfeat_0-f1-su-ph.jpg"],
    "pyfeat_f15": ["pyfeat_0-f15-hao-ph.jpg"],
    "pyfeat_f13": ["pyfeat_15-f13-anc-ph.jpg"],
    "astronaut": ["skimage_astronaut.png"],
    "pyfeat_single": ["pyfeat_single_face.jpg"],
}


def ear(lm: np.ndarray) -> float:
    def one(p: np.ndarray) -> float:
        return float((np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4])) / (2 * np.linalg.norm(p[0] - p[3])))

    return (one(lm[36:42]) + one(lm[42:48])) / 2


def mouth(lm: np.ndarray) -> float:
    return float(np.linalg.norm(lm[62] - lm[66]) / np.linalg.norm(lm[48] - lm[54]))


def clip_frames(start: int, stop: int, every: int) -> list[tuple[str, np.ndarray]]:
    from faceweave.media.video import read_frames

    out = []
    for i, rgb in enumerate(read_frames(CLIP)):
        if i >= stop:
            break
        if i >= start and (i - start) % every == 0:
            out.append((f"{CLIP.name}#{i}", rgb))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--person", default=None, help="person file (default the shipped demo person)")
    ap.add_argument("--heldout", default="377:472:12", help="START:STOP:EVERY clip frames not used in training")
    ap.add_argument("--out", type=Path, default=ROOT / "docs")
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from faceweave import api
    from faceweave.analysis import analyze
    from faceweave.engines.person import load, transform_crops
    from faceweave.media import read_image
    from faceweave.models.person.frame import align_to_frame
    from faceweave.nets.infer import head_pose

    net, card = load(a.person)
    person = card.get("name", "person")
    gal: dict[str, np.ndarray] = {}
    for who, files in GALLERY.items():
        embs = [analyze(read_image(S / f).rgb, mesh=False)[0].embedding for f in files]
        gal[who] = np.mean(embs, 0)
    train_frames = [int(f) for f in card.get("frames", [])]
    pick = train_frames[:: max(1, len(train_frames) // 6)][:6]
    person_embs = []
    for name, rgb in clip_frames(0, max(pick) + 1 if pick else 1, 1):
        if int(name.split("#")[1]) in pick:
            person_embs.append(analyze(rgb, mesh=False)[0].embedding)
    gal[person] = np.mean(person_embs, 0)
    names = list(gal)
    gmat = np.stack([gal[n] for n in names])

    s, e, k = (int(v) for v in a.heldout.split(":"))
    inputs = [(n, read_image(S / n).rgb, "other") for n in OTHERS]
    inputs += [(n, rgb, "heldout") for n, rgb in clip_frames(s, e, k)]
    rows, tiles = [], []
    for name, rgb, kind in inputs:
        f_in = analyze(rgb, mesh=False)[0]
        res = api.swap_picture(None, rgb, engine="person", person=a.person)
        out = res.picture.rgb
        fo = analyze(out, mesh=False)
        if not fo:
            rows.append({"input": name, "kind": kind, "face_found": False})
            continue
        # the output face nearest the input face's box centre
        f_out = min(fo, key=lambda f: np.hypot(f.center[0] - f_in.center[0], f.center[1] - f_in.center[1]))
        d = np.linalg.norm(gmat - f_out.embedding, axis=1)
        d_in = np.linalg.norm(gmat - f_in.embedding, axis=1)
        p_in, p_out = head_pose(rgb, f_in.landmarks)[0], head_pose(out, f_out.landmarks)[0]
        rows.append({
            "input": name, "kind": kind, "face_found": True,
            "retrieved": names[int(np.argmin(d))], "retrieved_before": names[int(np.argmin(d_in))],
            "dist_to_person": float(d[names.index(person)]), "dist_to_person_before": float(d_in[names.index(person)]),
            "pose_in": [float(v) for v in p_in], "pose_out": [float(v) for v in p_out],
            "ear_in": ear(f_in.landmarks), "ear_out": ear(f_out.landmarks),
            "mouth_in": mouth(f_in.landmarks), "mouth_out": mouth(f_out.landmarks),
        })
        crop, m = align_to_frame(rgb, f_in.landmarks, 128)
        raw = transform_crops(net, crop[None])[0]
        outcrop = cv2.warpAffine(out, m, (128, 128), flags=cv2.INTER_AREA)
        tiles.append(np.concatenate([crop, outcrop, raw], 1))
        logging.info("%s → %s (dist %.3f, before %.3f)", name, rows[-1]["retrieved"], rows[-1]["dist_to_person"],
                     rows[-1]["dist_to_person_before"])

    summary = {}
    for kind in ("other", "heldout"):
        r = [x for x in rows if x["kind"] == kind and x["face_found"]]
        if not r:
            continue
        dp = np.abs(np.array([x["pose_out"] for x in r]) - np.array([x["pose_in"] for x in r]))
        ei, eo = np.array([x["ear_in"] for x in r]), np.array([x["ear_out"] for x in r])
        mi, mo = np.array([x["mouth_in"] for x in r]), np.array([x["mouth_out"] for x in r])
        summary[kind] = {
            "faces": len([x for x in rows if x["kind"] == kind]),
            "face_found_after_swap": len(r),
            "retrieved_as_person": float(np.mean([x["retrieved"] == person for x in r])),
            "retrieved_as_person_before_swap": float(np.mean([x["retrieved_before"] == person for x in r])),
            "median_dist_to_person": float(np.median([x["dist_to_person"] for x in r])),
            "median_dist_to_person_before": float(np.median([x["dist_to_person_before"] for x in r])),
            "median_abs_delta_yaw_pitch_roll": [float(v) for v in np.median(dp, 0)],
            "median_abs_delta_pose_max_axis": float(np.median(dp.max(1))),
            "median_abs_delta_eye_openness": float(np.median(np.abs(eo - ei))),
            "median_abs_delta_mouth_openness": float(np.median(np.abs(mo - mi))),
            "corr_eye_openness": float(np.corrcoef(ei, eo)[0, 1]) if len(r) > 2 else None,
            "corr_mouth_openness": float(np.corrcoef(mi, mo)[0, 1]) if len(r) > 2 else None,
        }
    a.out.mkdir(exist_ok=True)
    (a.out / "person_figures.json").write_text(json.dumps({"person": person, "gallery": names, "summary": summary,
                                                           "rows": rows}, indent=1) + "\n")
    if tiles:
        sheet = np.concatenate([np.concatenate(tiles[i : i + 2], 1) if len(tiles[i : i + 2]) == 2
                                else np.concatenate([tiles[i], np.zeros_like(tiles[i])], 1)
                                for i in range(0, len(tiles), 2)], 0)
        cv2.imwrite(str(a.out / "person_sheet.jpg"), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 85])
    logging.info("%s", json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
