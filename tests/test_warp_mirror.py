"""The warp engine fills the side of the face a turned source does not show from its other side."""

from __future__ import annotations

import numpy as np
from conftest import faces_of, load_rgb

from faceweave.analysis.identity import identity_distance
from faceweave.engines import SwapOptions, get_engine
from faceweave.engines.warp import MIRROR_FORESHORTENING, MIRROR_TURNED, mesh_triangles, visible_triangles
from faceweave.engines.warp_mirror import mesh_mirror, split_triangles


def test_mesh_mirror_pairs_left_and_right() -> None:
    m = mesh_mirror()
    assert (m[m] == np.arange(478)).all()  # an involution
    assert (m[[33, 133, 61, 468]] == [263, 362, 291, 473]).all()  # eye corners, mouth corner, iris centre
    assert m[1] == 1 and m[152] == 152  # nose tip and chin lie on the midline
    # a frontal face's mesh mirrored about its midline lands on itself
    mesh = faces_of("facerec_obama.jpg")[0].mesh[:, :2]
    mid = float(np.median(mesh[m == np.arange(478), 0]))
    mirrored = mesh[m] * [-1, 1] + [2 * mid, 0]
    size = float(np.ptp(mesh[:, 0]))
    assert np.median(np.linalg.norm(mirrored - mesh, axis=1)) < 0.03 * size


def test_a_turned_source_gives_its_hidden_side_from_the_other_side() -> None:
    src, dst = faces_of("skimage_camera.png")[0], faces_of("facerec_obama.jpg")[0]
    direct, mirrored = split_triangles(src.mesh, dst.mesh, mesh_triangles(), 0.05, MIRROR_FORESHORTENING, MIRROR_TURNED)
    assert len(mirrored) > 0.2 * len(mesh_triangles())  # a profile hides much of its far side
    assert len(direct) + len(mirrored) > len(visible_triangles(src.mesh, dst.mesh)) + 0.2 * len(mesh_triangles())
    # a frontal source hides (almost) nothing, and its shared triangles stay its own
    biden = faces_of("facerec_biden.jpg")[0].mesh
    direct, few = split_triangles(biden, dst.mesh, mesh_triangles(), 0.05, MIRROR_FORESHORTENING, MIRROR_TURNED)
    assert len(few) < 0.02 * len(mesh_triangles())
    assert len(direct) == len(visible_triangles(biden, dst.mesh))

    eng = get_engine("warp")
    rgb_s, rgb_t = load_rgb("skimage_camera.png"), load_rgb("facerec_obama.jpg")
    on = eng.swap_face(rgb_s, src, rgb_t, dst, SwapOptions())
    off = eng.swap_face(rgb_s, src, rgb_t, dst, SwapOptions(extra={"mirror": False}))
    changed = np.abs(on.astype(int) - off.astype(int)).max(axis=2) > 8
    x0, y0, x1, y1 = dst.box.astype(int)
    assert changed[y0:y1, x0:x1].mean() > 0.1  # much of the face now comes from the source

    def to_target(out: np.ndarray) -> float:
        return identity_distance(faces_of_array(out), dst.embedding)

    assert to_target(on) > to_target(off) + 0.03  # less of the target's identity is left


def faces_of_array(rgb: np.ndarray) -> np.ndarray:
    from faceweave.analysis import analyze

    return analyze(rgb, mesh=False)[0].embedding
