"""Batched, differentiable face crops for the frozen networks (CPU or CUDA, follows the input's device).

The 2×3 matrices come from :mod:`faceweave.analysis.align` (ArcFace five-point similarity, box crops);
the warp itself is ``torch.nn.functional.grid_sample``, so gradients flow from a network's output back
to the full image. Coordinates follow OpenCV's ``warpAffine`` convention (pixel centres at integers),
so a crop made here matches ``cv2.warpAffine`` with the same matrix up to interpolation rounding.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from faceweave.analysis.align import (
    EXPRESSION_MARGINS,
    POSE_MARGINS,
    arcface_matrix,
    box_crop_matrix,
    landmark_box,
)
from faceweave.errors import FaceweaveError

MatrixLike = np.ndarray | torch.Tensor | Sequence[np.ndarray]


def image_to_tensor(rgb: np.ndarray, device: str | torch.device = "cpu") -> torch.Tensor:
    """H×W×3 uint8 RGB → (1, 3, H, W) float32 in [0, 1]."""
    a = np.asarray(rgb)
    if a.ndim != 3 or a.shape[2] != 3:
        raise FaceweaveError(f"image: expected an H×W×3 RGB array, got shape {a.shape}")
    t = torch.from_numpy(np.array(a, copy=True)).to(device)
    scale = 255.0 if a.dtype == np.uint8 else 1.0
    return (t.permute(2, 0, 1).unsqueeze(0).float() / scale).contiguous()


def tensor_to_uint8(images: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) in [0, 1] → B×H×W×3 uint8 (rounded)."""
    return (images.detach().clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()


def _as_matrices(matrices: MatrixLike, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    m = matrices if isinstance(matrices, torch.Tensor) else torch.as_tensor(np.asarray(matrices, np.float64))
    m = m.to(device=device, dtype=torch.float64)
    if m.ndim == 2:
        m = m.unsqueeze(0)
    if m.shape[1:] != (2, 3):
        raise FaceweaveError(f"matrices: expected (B, 2, 3), got {tuple(m.shape)}")
    return m


def warp_affine(
    images: torch.Tensor,
    matrices: MatrixLike,
    size: int | tuple[int, int],
    padding_mode: str = "zeros",
) -> torch.Tensor:
    """Crop ``images`` (B or 1, C, H, W) with photo→crop matrices (B, 2, 3) into (B, C, h, w).

    ``size`` is the crop side, or (width, height). One image may serve many faces (B = 1 is
    broadcast). Bilinear ``grid_sample``: differentiable with respect to the images.
    """
    if images.ndim != 4:
        raise FaceweaveError(f"images: expected (B, C, H, W), got {tuple(images.shape)}")
    w, h = (size, size) if isinstance(size, int) else size
    m = _as_matrices(matrices, images.device, images.dtype)
    n = m.shape[0]
    if images.shape[0] not in (1, n):
        raise FaceweaveError(f"images: batch {images.shape[0]} does not match {n} matrices")
    full = torch.zeros(n, 3, 3, dtype=torch.float64, device=images.device)
    full[:, :2] = m
    full[:, 2, 2] = 1
    inv = torch.linalg.inv(full)[:, :2]  # crop → photo
    ys, xs = torch.meshgrid(
        torch.arange(h, dtype=torch.float64, device=images.device),
        torch.arange(w, dtype=torch.float64, device=images.device),
        indexing="ij",
    )
    pts = torch.stack([xs, ys, torch.ones_like(xs)], -1).reshape(1, -1, 3)  # (1, h·w, 3)
    src = pts @ inv.transpose(1, 2)  # (n, h·w, 2) photo pixel coordinates
    H, W = images.shape[-2:]
    # align_corners=False: normalised −1…1 spans pixel edges, so centre x maps to (2x + 1) / W − 1
    grid = torch.stack([(2 * src[..., 0] + 1) / W - 1, (2 * src[..., 1] + 1) / H - 1], -1)
    grid = grid.reshape(n, h, w, 2).to(images.dtype)
    if images.shape[0] == 1 and n > 1:
        images = images.expand(n, -1, -1, -1)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode=padding_mode, align_corners=False)


def _landmark_list(landmarks: np.ndarray | torch.Tensor | Sequence[np.ndarray]) -> list[np.ndarray]:
    if isinstance(landmarks, torch.Tensor):
        landmarks = landmarks.detach().cpu().numpy()
    if isinstance(landmarks, np.ndarray) and landmarks.ndim == 2:
        landmarks = landmarks[None]
    arr = [np.asarray(lm, np.float64) for lm in landmarks]
    for lm in arr:
        if lm.shape != (68, 2):
            raise FaceweaveError(f"landmarks: expected 68×2 points per face, got {lm.shape}")
    return arr


def arcface_matrices(landmarks: np.ndarray | Sequence[np.ndarray], size: int = 112) -> np.ndarray:
    """(B, 2, 3) photo→ArcFace-template matrices from 68-point landmarks (B, 68, 2)."""
    return np.stack([arcface_matrix(lm, size) for lm in _landmark_list(landmarks)])


def pose_matrices(landmarks: np.ndarray | Sequence[np.ndarray], size: int = 224) -> np.ndarray:
    """(B, 2, 3) matrices for the pose net: the landmark box widened by ¼ on each side (faceplugin's crop)."""
    return np.stack([box_crop_matrix(landmark_box(lm), size, **POSE_MARGINS) for lm in _landmark_list(landmarks)])


def expression_matrices(landmarks: np.ndarray | Sequence[np.ndarray], size: int = 224) -> np.ndarray:
    """(B, 2, 3) matrices for the DenseNet: box top-left kept, 1.2× width and height (faceplugin's crop)."""
    return np.stack(
        [box_crop_matrix(landmark_box(lm), size, **EXPRESSION_MARGINS) for lm in _landmark_list(landmarks)]
    )


def arcface_crop(images: torch.Tensor, landmarks: np.ndarray | Sequence[np.ndarray], size: int = 112) -> torch.Tensor:
    """(B, 3, 112, 112) crops on the ArcFace five-point template (input of both identity nets)."""
    return warp_affine(images, arcface_matrices(landmarks, size), size)


def pose_crop(images: torch.Tensor, landmarks: np.ndarray | Sequence[np.ndarray], size: int = 224) -> torch.Tensor:
    """(B, 3, 224, 224) crops for :class:`~faceweave.nets.pose.HopenetShuffleNet`."""
    return warp_affine(images, pose_matrices(landmarks, size), size)


def expression_crop(
    images: torch.Tensor, landmarks: np.ndarray | Sequence[np.ndarray], size: int = 224
) -> torch.Tensor:
    """(B, 3, 224, 224) crops for :class:`~faceweave.nets.densenet.DenseNet121`."""
    return warp_affine(images, expression_matrices(landmarks, size), size)
