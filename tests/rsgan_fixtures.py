"""A tiny in-memory RSGAN dataset built from real portraits in tests/assets (a stand-in for faceweave.data).

Each item is the RSGAN dataset dict: ``x``, ``x_f``, ``x_h`` float32 [3, S, S] in [0, 1], ``m_bg``
float32 [1, S, S] (1 = background), ``c`` float32 [n_attr]; the dataset has ``attribute_names`` and
``size``. Faces are found with dlib (HOG detector + the 68-landmark model of face-recognition-models,
opened by path), aligned by a similarity transform onto a CelebA-like 178×218 template, then cut as
in RSGAN Fig. 3: face mask = hull of landmarks 27–67 stretched 1.3× / 1.4×; x = crop (0, 20) 178²;
x_f = masked face crop (30, 70) 118²; x_h = x with the face masked out. ``m_bg`` is a rough
person mask (head ellipse + shoulders), good enough for tests, not for training a real model.
Six photos × {original, flipped} plus jittered copies give 16 samples.

The only attribute, ``Mouth_Open``, is measured from the landmarks (inner-lip gap vs eye distance).
"""

from __future__ import annotations

import importlib.util
import math
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

ASSETS = Path(__file__).parent / "assets"
PHOTOS = (
    "pyfeat_0-f1-su-ph.jpg",
    "pyfeat_0-f15-hao-ph.jpg",
    "pyfeat_15-f13-anc-ph.jpg",
    "facerec_obama.jpg",
    "facerec_biden.jpg",
    "skimage_astronaut.png",
)
CANVAS_W, CANVAS_H = 178, 218
# Template (x, y) of the left-eye centre, right-eye centre and mouth centre in the 178×218 canvas.
TEMPLATE = np.float32([[69.0, 111.0], [109.0, 111.0], [89.0, 153.0]])
ATTRIBUTES = ["Mouth_Open"]


def _predictor_path() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")  # located, never imported (pkg_resources)
    assert spec is not None and spec.submodule_search_locations, "face-recognition-models is not installed"
    return Path(next(iter(spec.submodule_search_locations))) / "models" / "shape_predictor_68_face_landmarks.dat"


@lru_cache(maxsize=1)
def _dlib_models():
    import dlib

    return dlib.get_frontal_face_detector(), dlib.shape_predictor(str(_predictor_path()))


def landmarks68(rgb: np.ndarray) -> np.ndarray:
    """68 dlib landmarks (x, y) of the largest face of an RGB uint8 image."""
    import dlib

    detector, predictor = _dlib_models()
    scale = min(1.0, 800.0 / max(rgb.shape[:2]))
    small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else rgb
    faces = detector(small, 1)
    assert len(faces) > 0, "no face found in a test portrait"
    box = max(faces, key=lambda r: r.width() * r.height())
    shape = predictor(small, dlib.rectangle(box.left(), box.top(), box.right(), box.bottom()))
    return np.float32([[p.x, p.y] for p in shape.parts()]) / scale


def _align(rgb: np.ndarray, pts: np.ndarray, jitter: np.random.Generator | None) -> tuple[np.ndarray, np.ndarray]:
    src = np.float32([pts[36:42].mean(0), pts[42:48].mean(0), pts[48:68].mean(0)])
    m, _ = cv2.estimateAffinePartial2D(src, TEMPLATE)
    if jitter is not None:  # small similarity perturbation about the canvas centre
        s, a = jitter.uniform(0.96, 1.04), math.radians(jitter.uniform(-4, 4))
        t = jitter.uniform(-3, 3, size=2)
        cx, cy = CANVAS_W / 2, CANVAS_H / 2
        r = np.float32([[s * math.cos(a), -s * math.sin(a)], [s * math.sin(a), s * math.cos(a)]])
        off = np.float32([cx, cy]) - r @ np.float32([cx, cy]) + t
        m = np.hstack([r @ m[:, :2], (r @ m[:, 2] + off)[:, None]]).astype(np.float32)
    canvas = cv2.warpAffine(rgb, m, (CANVAS_W, CANVAS_H), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)
    warped = pts @ m[:, :2].T + m[:, 2]
    return canvas, warped


def _sample(canvas: np.ndarray, pts: np.ndarray, size: int) -> dict[str, np.ndarray]:
    hull_pts = pts[27:68]
    centre = hull_pts.mean(0)
    stretched = (hull_pts - centre) * np.float32([1.3, 1.4]) + centre
    face = np.zeros((CANVAS_H, CANVAS_W), np.uint8)
    cv2.fillConvexPoly(face, cv2.convexHull(stretched.astype(np.int32)), 1)
    person = np.zeros_like(face)
    eye_d = np.linalg.norm(pts[42:48].mean(0) - pts[36:42].mean(0))
    head_c = (int(centre[0]), int(centre[1] - 0.6 * eye_d))
    cv2.ellipse(person, head_c, (int(1.5 * eye_d), int(2.1 * eye_d)), 0, 0, 360, 1, -1)
    chin_y = int(pts[8, 1])
    cv2.rectangle(person, (int(centre[0] - 2.6 * eye_d), chin_y), (int(centre[0] + 2.6 * eye_d), CANVAS_H), 1, -1)
    cv2.rectangle(person, (int(centre[0] - 0.8 * eye_d), int(centre[1])), (int(centre[0] + 0.8 * eye_d), chin_y), 1, -1)

    def crop(img: np.ndarray, x: int, y: int, side: int) -> np.ndarray:
        return cv2.resize(img[y : y + side, x : x + side], (size, size), interpolation=cv2.INTER_AREA)

    img = canvas.astype(np.float32) / 255.0
    f = face[..., None].astype(np.float32)
    return {
        "x": crop(img, 0, 20, 178),
        "x_f": crop(img * f, 30, 70, 118),
        "x_h": crop(img * (1 - f), 0, 20, 178),
        "m_bg": crop(1.0 - person.astype(np.float32), 0, 20, 178)[..., None],
        "m_face": crop(f, 0, 20, 178)[..., None],
        "mouth_open": float(np.linalg.norm(pts[66] - pts[62]) / eye_d > 0.12),
    }


@lru_cache(maxsize=4)
def build_samples(size: int = 64, n: int = 16, seed: int = 0) -> dict[str, torch.Tensor]:
    """Stacked tensors of ``n`` real-face samples at ``size`` px (cached per process)."""
    rng = np.random.default_rng(seed)
    photos = []
    for name in PHOTOS:
        bgr = cv2.imread(str(ASSETS / name), cv2.IMREAD_COLOR)
        assert bgr is not None, f"missing test asset {name}"
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        photos.append((rgb, landmarks68(rgb)))
    items = []
    for k in range(n):
        rgb, pts = photos[k % len(photos)]
        jittered = k >= 2 * len(photos)
        canvas, warped = _align(rgb, pts, rng if jittered else None)
        s = _sample(canvas, warped, size)
        if (k // len(photos)) % 2 == 1:  # flipped copies (the crops are symmetric about the canvas centre)
            s = {key: (v[:, ::-1].copy() if isinstance(v, np.ndarray) else v) for key, v in s.items()}
        items.append(s)

    def stack(key: str) -> torch.Tensor:
        return torch.from_numpy(np.stack([it[key] for it in items])).permute(0, 3, 1, 2).contiguous().float()

    return {
        "x": stack("x"),
        "x_f": stack("x_f"),
        "x_h": stack("x_h"),
        "m_bg": stack("m_bg"),
        "m_face": stack("m_face"),
        "c": torch.tensor([[it["mouth_open"]] for it in items], dtype=torch.float32),
    }


class FaceFixtureDataset(Dataset):
    """The RSGAN dataset contract over :func:`build_samples` (optionally without attributes)."""

    def __init__(self, size: int = 64, n: int = 16, with_attributes: bool = True, tensors=None) -> None:
        self.size = size
        self.attribute_names = list(ATTRIBUTES) if with_attributes else []
        t = tensors if tensors is not None else build_samples(size, n)
        self._t = dict(t)
        if not with_attributes:
            self._t["c"] = torch.zeros(self._t["x"].shape[0], 0)

    def __len__(self) -> int:
        return self._t["x"].shape[0]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {k: v[i] for k, v in self._t.items()}


def make_dataset(cache_dir: str | None = None, size: int = 32) -> FaceFixtureDataset:
    """``--dataset-factory tests.rsgan_fixtures:make_dataset`` for trainer subprocesses (``--data`` = cache dir)."""
    if cache_dir is None:
        return FaceFixtureDataset(size=size)
    path = Path(cache_dir) / f"rsgan_fixture_{size}.pt"
    if path.is_file():
        return FaceFixtureDataset(size=size, tensors=torch.load(path, weights_only=True))
    ds = FaceFixtureDataset(size=size)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(ds._t, tmp)
    tmp.replace(path)
    return ds
