"""Build faceweave/assets/mesh_triangles.npy: mediapipe's face-mesh triangles with a fixed winding.

mediapipe ships its tessellation as an edge list; the triangles are its 3-cliques. Their winding is
fixed once on a frontal photo so that a triangle facing the camera has a positive signed area in
image coordinates (y down); a triangle whose signed area is negative in some photo is turned away.
Run: python scripts/make_mesh_triangles.py tests/assets/facerec_obama.jpg
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np


def tessellation_triangles() -> np.ndarray:
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_TESSELATION

    adj: dict[int, set[int]] = {}
    for a, b in FACEMESH_TESSELATION:
        adj.setdefault(a, set()).add(b)
        adj.setdefault(b, set()).add(a)
    tris = set()
    for a in adj:
        for b, c in itertools.combinations(sorted(adj[a]), 2):
            if c in adj[b]:
                tris.add(tuple(sorted((a, b, c))))
    return np.array(sorted(tris), np.int32)


def main(photo: str) -> None:
    from faceweave.analysis import analyze
    from faceweave.compose.warp import triangle_facing
    from faceweave.media import read_image

    face = analyze(read_image(photo).rgb, identity=False)[0]
    assert face.mesh is not None
    tris = tessellation_triangles()
    area = triangle_facing(face.mesh, tris)
    # Triangles seen edge-on in the frontal photo: orient by the 3-D normal pointing to the camera
    # (mediapipe's z grows away from the camera).
    p = face.mesh.astype(np.float64)
    n = np.cross(p[tris[:, 1]] - p[tris[:, 0]], p[tris[:, 2]] - p[tris[:, 0]])
    flip = np.where(np.abs(area) > 1e-3 * np.abs(area).max(), area < 0, n[:, 2] > 0)
    tris[flip] = tris[flip][:, [0, 2, 1]]
    out = Path(__file__).resolve().parents[1] / "faceweave" / "assets" / "mesh_triangles.npy"
    np.save(out, tris.astype(np.int16))
    sys.stdout.write(f"{len(tris)} triangles -> {out}\n")


if __name__ == "__main__":
    main(sys.argv[1])
