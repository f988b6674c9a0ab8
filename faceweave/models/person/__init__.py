"""Per-identity face swap as style transfer (Korshunova et al., "Fast Face-swap Using CNNs", seed 003).

- :mod:`.frame`: alignment to the frontal reference frame (poster, "Method"),
- :mod:`.network`: the multi-scale transformation network (poster, "TransformationNetwork"; Ulyanov [3]),
- :mod:`.losses`: content, patch-based style, light and total-variation losses (poster, "Total loss"),
- :mod:`.light`: the siamese light network Γ (poster, "Light loss"; Chopra et al. [4]),
- :mod:`.person_file`: one trained person = one safetensors file with its model card.
"""

from faceweave.models.person.frame import FRAME_SIZE, align_to_frame
from faceweave.models.person.light import LightNet
from faceweave.models.person.network import TransformationNet

__all__ = ["FRAME_SIZE", "LightNet", "TransformationNet", "align_to_frame"]
