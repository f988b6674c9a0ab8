"""The photos of an evaluation: read and analysed once, grouped by identity, drawn into ordered pairs."""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from faceweave.analysis import analyze
from faceweave.analysis.face import Face
from faceweave.choices import IMAGE_SUFFIXES
from faceweave.eval import metrics as M
from faceweave.media.image import read_image

log = logging.getLogger(__name__)

# Two photos whose identity distance is below this are taken as the same person when no identity
# list is given. dlib's own rule (Euclidean 0.6 on raw descriptors of norm ≈ 1.4) is ≈ 0.18 on
# docs/design.md §5's normalised squared distance; that merges different East Asian subjects of the
# sample photos (0.13–0.21 apart), so the default is stricter. Pass an identity list for real sets.
SAME_IDENTITY_THRESHOLD = 0.10


@dataclass
class Photo:
    """One photo of the evaluation folder and its largest face (None when analysis failed)."""

    name: str
    path: Path
    rgb: np.ndarray | None = None
    face: Face | None = None
    identity: str = ""
    error: str | None = None
    pose: tuple[float, float, float] | None = None
    pose_net: np.ndarray | None = None  # (3,) yaw, pitch, roll by the Hopenet pose net
    embedding192: np.ndarray | None = None  # MobileFaceNet-192 (the 512-D one is face.embedding512)


def list_images(folder: str | Path) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name."""
    d = Path(folder)
    if not d.is_dir():
        raise FileNotFoundError(f"{d}: not a folder")
    return sorted(p for p in d.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def read_identities(path: str | Path) -> dict[str, str]:
    """A "file identity" list, one photo per line (CelebA's ``identity_CelebA.txt`` format; commas work too)."""
    out: dict[str, str] = {}
    for line in Path(path).read_text().splitlines():
        parts = line.replace(",", " ").split()
        if len(parts) >= 2 and not line.lstrip().startswith("#"):
            out[parts[0]] = parts[1]
    return out


def load_photos(paths: Sequence[Path], *, mesh: bool, desc: str = "analyse") -> list[Photo]:
    """Read and analyse every photo; a photo that cannot be read or has no face keeps its error."""
    photos: list[Photo] = []
    for p in tqdm(paths, desc=desc, unit="photo", leave=False):
        ph = Photo(name=p.name, path=p)
        try:
            ph.rgb = read_image(p).rgb
            faces = analyze(ph.rgb, mesh=mesh, identity=True)
            if not faces:
                ph.error = "no face found"
            else:
                ph.face = faces[0]
                h, w = ph.rgb.shape[:2]
                ph.pose = M.head_pose(ph.face.landmarks, (w, h))
                try:  # the converted nets' columns are extra: a failure there must not drop the photo
                    ph.embedding192, ph.pose_net = M.net_scores(ph.rgb, ph.face.landmarks)
                except Exception as e:  # noqa: BLE001
                    log.warning("%s: converted nets not scored: %s", p.name, e)
        except Exception as e:  # noqa: BLE001 - recorded, not fatal
            ph.error = f"{type(e).__name__}: {e}"
        if ph.error:
            log.warning("%s: %s", p.name, ph.error)
        photos.append(ph)
    return photos


def assign_identities(
    photos: Sequence[Photo], known: dict[str, str] | None = None, threshold: float = SAME_IDENTITY_THRESHOLD
) -> None:
    """Give every photo an identity label: from ``known`` when listed, else by clustering embeddings.

    Clustering links photos whose identity distance is below ``threshold`` (single linkage) and
    names each cluster after its first photo. Photos without a face get their own label.
    """
    known = known or {}
    unlabelled = [p for p in photos if p.name not in known and p.face is not None and p.face.embedding is not None]
    parent = {p.name: p.name for p in unlabelled}

    def root(n: str) -> str:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for i, a in enumerate(unlabelled):
        for b in unlabelled[i + 1 :]:
            if M.identity_distance(a.face.embedding, b.face.embedding) < threshold:  # type: ignore[union-attr,arg-type]
                parent[root(b.name)] = root(a.name)
    for p in photos:
        if p.name in known:
            p.identity = str(known[p.name])
        elif p.name in parent:
            p.identity = "cluster:" + root(p.name)
        else:
            p.identity = "photo:" + p.name


def draw_pairs(photos: Sequence[Photo], n: int, seed: int) -> list[tuple[int, int]]:
    """``n`` distinct ordered pairs (source, target) of photos of different identities, seeded.

    All photos take part, faceless ones too (their pairs fail at analysis, as a swap pipeline would).
    Fewer pairs are returned, with a warning, when the folder does not have ``n`` of them.
    """
    cands = [
        (i, j)
        for i in range(len(photos))
        for j in range(len(photos))
        if i != j and photos[i].identity != photos[j].identity
    ]
    rng = random.Random(seed)
    if n > len(cands):
        log.warning("only %d ordered pairs of different identities available (asked for %d)", len(cands), n)
        n = len(cands)
    return rng.sample(cands, n)
