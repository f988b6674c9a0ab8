"""Options of ``faceweave train person`` (seed 003): the dataclass and its command-line flags."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field

from faceweave.errors import FaceweaveError
from faceweave.models.person.losses import LossWeights


@dataclass
class PersonTrainOptions:
    photos: str
    name: str
    out: str
    content: list[str] = field(default_factory=list)
    steps: int = 2000
    batch: int = 8
    lr: float = 2e-3
    n_best: int = 8
    seed: int = 0
    every: int = 2  # use every n-th clip frame (before deduplication)
    dedupe: float = 3.0
    frames: tuple[int, int] | None = None  # [start, stop) clip frames the person is trained on
    max_minutes: float | None = None
    checkpoint_every: int = 100
    alpha: float = LossWeights.alpha
    beta: float = LossWeights.beta
    gamma: float = LossWeights.gamma
    identity_weight: float = 0.0  # λ_id of our identity term (not in the poster; 0 = the poster's losses only)
    pseudo_pairs: float = 0.0  # λ_pair of our pseudo-pair L1 term (not in the poster; 0 = off)
    pair_batch: int = 8  # pseudo pairs per step
    pair_warmup: int = 0  # first steps with the pseudo-pair term alone (no DenseNet: cheap)
    pseudo_per_face: int = 3  # other faces warped into each of the person's frames (faceweave.data.person_pseudo)
    pseudo_onto_others: int = 3  # the person's frames warped onto each other face (and each jittered copy)
    pseudo_jitter: int = 0  # similarity-jittered copies of each other face
    output: str = "direct"  # network output: "direct" or "residual" (starts at the identity mapping)
    canvas: bool = False  # a learned output canvas started at the person's mean face (ours)
    branch_channels: int = 16
    join_channels: tuple[int, ...] = (96, 64, 32, 16)
    content_layers: tuple[str, ...] = LossWeights.content_layers
    style_layers: tuple[str, ...] = LossWeights.style_layers
    progress: bool = False
    device: str = "auto"  # cpu, cuda, cuda:N; auto = CUDA when available (under torchrun: the local rank's GPU)


def add_train_person_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--photos", required=True, metavar="DIR_OR_VIDEO",
                   help="the person: a clip, a folder of photos or a photo")
    p.add_argument("--name", required=True, help="the person's name (letters, digits, - and _)")
    p.add_argument("--out", required=True, metavar="DIR", help="run folder (re-run the same command to resume)")
    p.add_argument("--content", action="append", default=[], metavar="DIR_OR_VIDEO",
                   help="faces of other people to learn the transformation on (repeatable; photos: every face)")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--n-best", type=int, default=8, help="style images per input, nearest in landmarks (N_best)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--every", type=int, default=2, help="use every n-th frame of a clip (default 2)")
    p.add_argument("--frames", metavar="START:STOP", help="only these clip frames (e.g. 0:377 to hold out the rest)")
    p.add_argument("--max-minutes", type=float, default=None, help="stop (with a checkpoint) after this much training")
    p.add_argument("--checkpoint-every", type=int, default=100)
    p.add_argument("--alpha", type=float, default=LossWeights.alpha, help="style weight α")
    p.add_argument("--beta", type=float, default=LossWeights.beta, help="light weight β")
    p.add_argument("--gamma", type=float, default=LossWeights.gamma, help="total-variation weight γ")
    p.add_argument("--identity-weight", type=float, default=0.0,
                   help="λ_id of our identity term (1 − cosine to the person's mean identity512 embedding; "
                   "not in the poster, default 0)")
    p.add_argument("--pseudo-pairs", type=float, default=0.0, metavar="LAMBDA",
                   help="λ_pair of our pseudo-pair L1 term (warp-engine swaps in and out of the person's "
                   "frames; not in the poster, default 0 = off)")
    p.add_argument("--pair-batch", type=int, default=8, help="pseudo pairs per step")
    p.add_argument("--pair-warmup", type=int, default=0, metavar="STEPS",
                   help="first STEPS steps with the pseudo-pair term alone (cheap: no DenseNet)")
    p.add_argument("--pseudo-per-face", type=int, default=3, help="other faces warped into each of the person's frames")
    p.add_argument("--pseudo-onto-others", type=int, default=3,
                   help="the person's nearest frames warped onto each other face")
    p.add_argument("--pseudo-jitter", type=int, default=0,
                   help="jittered copies of each other face (±8°, ±8 %%, ±4 px)")
    p.add_argument("--output", choices=("direct", "residual"), default="direct",
                   help="network output: the image (default) or a residual added to the input")
    p.add_argument("--canvas", action="store_true",
                   help="add a learned output canvas started at the person's mean face (not in the poster)")
    p.add_argument("--width", default="16:96,64,32,16", metavar="BRANCH:JOINS",
                   help="channels per branch and after each join, coarse to fine")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N (auto: CUDA when available)")
    p.add_argument("--style-layers", default=",".join(LossWeights.style_layers), help="DenseNet stages for L_style")
    p.add_argument("--content-layers", default=",".join(LossWeights.content_layers),
                   help="DenseNet stages for L_content")


def options_from_args(a: argparse.Namespace) -> PersonTrainOptions:
    frames = None
    if a.frames:
        try:
            s, e = (int(v) for v in a.frames.split(":"))
        except ValueError:
            raise FaceweaveError(f"--frames {a.frames!r}: expected START:STOP, e.g. 0:377") from None
        if not 0 <= s < e:
            raise FaceweaveError(f"--frames {a.frames!r}: need 0 ≤ START < STOP")
        frames = (s, e)
    from faceweave.nets.densenet import FEATURE_LAYERS

    layers = {}
    for key in ("style_layers", "content_layers"):
        names = tuple(n.strip() for n in getattr(a, key).split(",") if n.strip())
        bad = [n for n in names if n not in FEATURE_LAYERS]
        if bad or not names:
            flag = key.replace("_", "-")
            raise FaceweaveError(f"--{flag}: unknown layer(s) {bad}; choose from {', '.join(FEATURE_LAYERS)}")
        layers[key] = names
    return PersonTrainOptions(
        photos=a.photos, name=a.name, out=a.out, content=list(a.content), steps=a.steps, batch=a.batch, lr=a.lr,
        n_best=a.n_best, seed=a.seed, every=a.every, frames=frames, max_minutes=a.max_minutes,
        checkpoint_every=a.checkpoint_every, alpha=a.alpha, beta=a.beta, gamma=a.gamma,
        identity_weight=a.identity_weight, device=a.device, pseudo_pairs=a.pseudo_pairs, pair_batch=a.pair_batch,
        pair_warmup=a.pair_warmup, canvas=a.canvas,
        pseudo_onto_others=a.pseudo_onto_others, pseudo_jitter=a.pseudo_jitter,
        pseudo_per_face=a.pseudo_per_face, output=a.output, **_width(a.width),
        progress=sys.stderr.isatty(), **layers,
    )


def _width(spec: str) -> dict[str, object]:
    """``--width BRANCH:J1,J2,...`` → branch_channels, join_channels."""
    try:
        b, joins = spec.split(":")
        out = {"branch_channels": int(b), "join_channels": tuple(int(v) for v in joins.split(","))}
    except ValueError:
        raise FaceweaveError(f"--width {spec!r}: expected BRANCH:J1,J2,J3,J4, e.g. 16:96,64,32,16") from None
    if len(out["join_channels"]) != 4 or min((out["branch_channels"], *out["join_channels"])) < 1:
        raise FaceweaveError(f"--width {spec!r}: need a positive branch width and four positive join widths")
    return out


