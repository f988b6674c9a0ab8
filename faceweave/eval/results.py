"""What an evaluation records per pair and per engine, and the metric keys in report order."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

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
    "id_target_192": ("Identity distance to target, MobileFaceNet-192", False),
    "pose_error_net": ("Pose error (deg), Hopenet", True),
    "expr_diff": ("|Δ EAR| + |Δ MAR|", True),
    "ms_per_swap": ("ms per swap", True),
}


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
    id_target_192: float | None = None
    pose_error_net: float | None = None  # ‖(yaw, pitch, roll)_swap − (…)_target‖₂ by the pose net (FaceShifter)
    swap2_abs: float | None = None
    swap2_msssim: float | None = None
    expr_diff: float | None = None
    nearer_source: bool | None = None  # dlib: the swap is nearer its source than its target
    nearer_source_192: bool | None = None  # the same with the second identity net (MobileFaceNet-192)

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
