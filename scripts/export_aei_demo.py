"""Export the AEI-Net demo weights from a training run: E and G only, config and provenance in the metadata.

    .venv/bin/python scripts/export_aei_demo.py RUN [--step N] [--fp16] [--out faceweave/weights/aei_demo.safetensors]

float32 unless ``--fp16`` (halves the file; the network computes in float32 either way).

Prints the file's sha256 for the model registry (faceweave/registry.py, card ``aei-demo``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

from faceweave.media.atomic import atomic_write
from faceweave.models.aei import AEIConfig, AEINet
from faceweave.models.aei.model import CONFIG_METADATA_KEY
from faceweave.registry import sha256_file
from faceweave.train import checkpoint as ckpt

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", type=Path)
    p.add_argument("--step", type=int)
    p.add_argument("--fp16", action="store_true", help="store float16 tensors")
    p.add_argument("--out", type=Path, default=ROOT / "faceweave" / "weights" / "aei_demo.safetensors")
    a = p.parse_args(argv)
    ck_dir = a.run / "checkpoints"
    path = ck_dir / f"{ckpt.checkpoint_stem(a.step)}.safetensors" if a.step else ckpt.latest_checkpoint(ck_dir)
    loaded = ckpt.load_checkpoint(path)
    cfg = AEIConfig.from_dict(json.loads(loaded.trainer_state["config"]))
    model = AEINet(cfg, with_discriminator=False)
    model.load_exported_state(loaded.tensors)
    run = json.loads((a.run / "run.json").read_text())
    dtype = torch.float16 if a.fp16 else torch.float32
    tensors = {k: v.to(dtype).contiguous() for k, v in model.export_state(with_discriminator=False).items()}
    meta = {
        CONFIG_METADATA_KEY: json.dumps(cfg.to_dict()),
        "format": "faceweave-aei",
        "steps": str(loaded.step),
        "batch_size": str(run["options"]["batch_size"]),
        "id_mix": str(run["options"]["id_mix"]),
        "pseudo_ratio": str(run["options"].get("pseudo_ratio", 0.0)),
        "images": str(run["images"]),
        "identities": str(run["identities"]),
    }
    atomic_write(a.out, lambda q: save_file(tensors, q, metadata=meta))
    AEINet.from_pretrained(a.out)  # loads back
    sys.stdout.write(f"{a.out}: step {loaded.step}, {a.out.stat().st_size / 1e6:.1f} MB, sha256 {sha256_file(a.out)}\n")
    return 0


if __name__ == "__main__":
    torch.set_num_threads(1)
    sys.exit(main())
