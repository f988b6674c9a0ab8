"""The source's hidden half, taken from its visible half (faces are nearly left-right symmetric).

A source photo with the head turned shows one cheek, eye and half-mouth well and the other edge-on or
not at all: the mesh warp has no texture for triangles turned away in the source, and the target keeps
its own skin there (a turned source leaves half of the target's face, and identity, in place). Each
such triangle that faces the camera in the target takes the texture of its mirror image, the same
triangle on the other side of the face, where that one faces the source's camera.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np

from faceweave.compose.warp import triangle_facing

N_VERTICES = 478


@cache
def mesh_mirror() -> np.ndarray:
    """(478,) vertex → its mirror vertex (built by scripts/make_mesh_mirror.py)."""
    return np.load(Path(__file__).resolve().parents[1] / "assets" / "mesh_mirror.npy").astype(np.int64)


def split_triangles(
    src_mesh: np.ndarray,
    dst_mesh: np.ndarray,
    tris: np.ndarray,
    min_area: float,
    foreshortening: float = np.inf,
    turned: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(direct, mirrored): triangles warped from themselves, and from their mirror image.

    Both face the target's camera (signed area above ``min_area`` px²). A triangle is mirrored when
    it is turned away in the source and its mirror image is not, or when its mirror image is seen
    ``foreshortening`` × larger in the source (the triangle itself nearly edge-on); direct otherwise,
    when it faces the source's camera. With ``turned`` set, a source hiding less than that share of
    the triangles (one facing the camera) has only its hidden triangles mirrored.
    """
    a_src = triangle_facing(src_mesh, tris)
    a_dst = triangle_facing(dst_mesh, tris)
    # the mirror triangle's winding is reversed by the reflection: facing means a negative area here
    a_mir = -triangle_facing(src_mesh, np.ascontiguousarray(mesh_mirror()[tris]))
    shown = a_dst > min_area
    own = a_src > min_area
    if turned is not None and float((~own).mean()) < turned:
        foreshortening = np.inf  # a source facing the camera: only its few hidden triangles
    worse = ~own if not np.isfinite(foreshortening) else ~own | (a_mir > foreshortening * a_src)
    mirrored = shown & (a_mir > min_area) & worse
    return tris[shown & own & ~mirrored], tris[mirrored]


def with_mirrors(
    src_mesh: np.ndarray, geometry: np.ndarray, tris: np.ndarray, mirrored: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source points, target points and triangles for one warp of ``tris`` plus the ``mirrored`` ones.

    Vertices 478… repeat the target geometry, with the source points of their mirror vertices: a
    mirrored triangle samples the other side of the source face, reflected.
    """
    if len(mirrored) == 0:
        return src_mesh, geometry, tris
    src = np.concatenate([src_mesh[:, :2], src_mesh[mesh_mirror(), :2]]).astype(np.float32)
    dst = np.concatenate([geometry[:, :2], geometry[:, :2]]).astype(np.float32)
    return src, dst, np.concatenate([tris, mirrored + N_VERTICES])
