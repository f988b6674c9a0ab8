"""AEI-Net (FaceShifter, Li et al. 2020; seed 001, thesis ch. 4): identity of X_s, attributes of X_t.

``AEINet`` holds the multi-level attribute encoder E, the AAD generator G and the multi-scale
discriminator D; ``AEIConfig`` their sizes (presets ``paper`` 256 px, ``cpu`` 64 px, ``tiny``);
the losses of Eq. 4.8–4.12 live in :mod:`faceweave.models.aei.losses`; the frozen identity encoder
interface in :mod:`faceweave.models.aei.identity`; the crop frame in :mod:`faceweave.models.aei.frame`;
training in :mod:`faceweave.train.aei`.
"""

from faceweave.models.aei.config import AEIConfig
from faceweave.models.aei.identity import FrozenIdentity, identity_crop
from faceweave.models.aei.losses import AEILossWeights
from faceweave.models.aei.model import CONFIG_METADATA_KEY, AEINet

__all__ = ["AEIConfig", "AEILossWeights", "AEINet", "CONFIG_METADATA_KEY", "FrozenIdentity", "identity_crop"]
