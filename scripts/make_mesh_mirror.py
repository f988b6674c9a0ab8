"""Build faceweave/assets/mesh_mirror.npy: for each of mediapipe's 478 mesh vertices, its mirror image.

The mesh is left-right symmetric by design (vertex 33, the right eye's outer corner, mirrors 263).
The pairing is found on a frontal photo's mesh: the mesh is reflected (x → −x), aligned back onto
itself by a 3-D similarity (Umeyama), and vertices are paired one-to-one by the Hungarian method on
their distances; alignment and pairing are iterated a few times.
Run: python scripts/make_mesh_mirror.py tests/assets/facerec_obama.jpg
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def mirror_pairs(mesh: np.ndarray, rounds: int = 5) -> np.ndarray:
    from scipy.optimize import linear_sum_assignment

    from faceweave.engines.warp import similarity_3d

    p = mesh.astype(np.float64) - mesh.mean(0)
    r = p * np.array([-1.0, 1.0, 1.0])
    moved = r  # a frontal face centred on its mean: the reflection lies near the face already
    for _ in range(rounds):
        cost = np.linalg.norm(moved[:, None, :] - p[None, :, :], axis=2)
        _, pair = linear_sum_assignment(cost)
        moved = similarity_3d(r, p[pair])  # the reflection placed onto its partners
    return pair.astype(np.int16)


def main(photo: str) -> None:
    from faceweave.analysis import analyze
    from faceweave.media import read_image

    face = analyze(read_image(photo).rgb, identity=False)[0]
    assert face.mesh is not None
    pair = mirror_pairs(face.mesh)
    assert (pair[pair] == np.arange(len(pair))).all(), "the pairing is not an involution"
    assert pair[33] == 263 and pair[133] == 362 and pair[61] == 291 and pair[1] == 1
    out = Path(__file__).resolve().parents[1] / "faceweave" / "assets" / "mesh_mirror.npy"
    np.save(out, pair)
    sys.stdout.write(f"{int((pair == np.arange(len(pair))).sum())} vertices on the midline -> {out}\n")


if __name__ == "__main__":
    main(sys.argv[1])
