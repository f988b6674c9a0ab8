"""The U-Net harmonizer GAN of seed 004: learned blending of any engine's face composite.

Networks in :mod:`.networks`, losses H1–H5 in :mod:`.losses`, sizes in :mod:`.config`. No I/O here;
loading shipped weights is :mod:`faceweave.compose.harmonize`, training :mod:`faceweave.train.harmonizer`.
"""

from faceweave.models.harmonizer.config import HarmonizerConfig
from faceweave.models.harmonizer.losses import HarmonizerLossWeights
from faceweave.models.harmonizer.networks import ResNetDiscriminator, UNetGenerator, mask_gate

CONFIG_METADATA_KEY = "faceweave.harmonizer.config"

__all__ = ["CONFIG_METADATA_KEY", "HarmonizerConfig", "HarmonizerLossWeights", "ResNetDiscriminator",
           "UNetGenerator", "mask_gate"]
