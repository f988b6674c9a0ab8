"""The bad-input corpus: odd, broken and hostile files made from a real photo (tests/assets).

Every entry is either VALID (a photo of a face in an unusual but legitimate encoding: every command
that takes a photo must succeed on it) or BAD (a file that is not a usable photo: every command must
exit non-zero with exactly one line on stderr). Built once per session by ``corpus`` in tests that
need it (see tests/test_bad_inputs.py).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from conftest import ASSETS, write_bomb_png

BASE = ASSETS / "facerec_obama.jpg"  # a real portrait, one face


@dataclass(frozen=True)
class Entry:
    name: str
    path: Path
    valid: bool  # True: a face photo that must work; False: must be refused in one line


def _base(scale: float = 0.5):
    from PIL import Image

    with Image.open(BASE) as im:
        im = im.convert("RGB")
        return im.resize((int(im.width * scale), int(im.height * scale)), Image.LANCZOS)


def _exif_rotated(path: Path) -> None:
    """Pixels stored turned 90° counter-clockwise, EXIF orientation 6 ("rotate 90° CW to view")."""
    from PIL import Image

    im = _base().transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    im.save(path, "JPEG", quality=90, exif=exif.tobytes())


def _sixteen_bit(path: Path, gray: bool) -> None:
    a = np.asarray(_base()).astype(np.uint16) * 257
    if gray:
        from PIL import Image

        g = (a.mean(axis=2)).astype(np.uint16)
        Image.fromarray(g, "I;16").save(path)
    else:
        import cv2

        cv2.imwrite(str(path), np.ascontiguousarray(a[..., ::-1]))  # 16-bit RGB PNG


def _animated_gif(path: Path) -> None:
    im = _base()
    frames = [im, im.transpose(0)]  # the face, then its mirror image
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)


def _wide(im):
    """A 6000×1800 panorama: the portrait enlarged to 1800 px high, its edge columns stretched to the sides."""
    import cv2
    from PIL import Image

    face = np.asarray(im.resize((round(im.width * 1800 / im.height), 1800), Image.BICUBIC))
    left = (6000 - face.shape[1]) // 2
    wide = cv2.copyMakeBorder(face, 0, 0, left, 6000 - face.shape[1] - left, cv2.BORDER_REPLICATE)
    return Image.fromarray(wide)


def _valid(d: Path) -> dict[str, Path]:
    from PIL import Image

    im = _base()
    out: dict[str, Path] = {}

    def save(name: str, img, **kw) -> None:
        p = d / name
        img.save(p, **kw)
        out[name] = p

    save("rgba.png", Image.merge("RGBA", (*im.split(), Image.new("L", im.size, 200))))
    save("gray.jpg", im.convert("L"), quality=90)
    save("cmyk.jpg", im.convert("CMYK"), quality=90)
    save("palette.png", im.convert("P", palette=Image.Palette.ADAPTIVE, colors=256))
    save("photo.webp", im, quality=90)
    save("photo.bmp", im)
    save("photo.tiff", im, compression="tiff_lzw")
    save("wide-6000px.jpg", _wide(im), quality=85)
    save("with space é.jpg", im, quality=90)
    save("写真 ünïcødé.png", im)
    save("-leading-dash.jpg", im, quality=90)
    for name, gray in (("gray16.png", True), ("rgb16.png", False)):
        _sixteen_bit(d / name, gray)
        out[name] = d / name
    _exif_rotated(d / "exif-rotated.jpg")
    out["exif-rotated.jpg"] = d / "exif-rotated.jpg"
    _animated_gif(d / "animated.gif")
    out["animated.gif"] = d / "animated.gif"
    return out


def _bad(d: Path) -> dict[str, Path]:
    from PIL import Image

    jpg = io.BytesIO()
    _base().save(jpg, "JPEG", quality=90)
    png = io.BytesIO()
    _base().save(png, "PNG")
    rng = np.random.default_rng(0)
    files = {
        "zero-byte.jpg": b"",
        "truncated.jpg": jpg.getvalue()[: len(jpg.getvalue()) // 2],
        "truncated.png": png.getvalue()[: len(png.getvalue()) // 2],
        "header-only.png": png.getvalue()[:64],
        "text.jpg": b"This is a plain text file, renamed to look like a photo.\n" * 20,
        "page.png": b"<!DOCTYPE html><html><head><title>404</title></head><body>Not found</body></html>\n",
        "random.jpg": rng.integers(0, 256, 50_000, dtype=np.uint8).tobytes(),
        "random.png": b"\x89PNG\r\n\x1a\n" + rng.integers(0, 256, 5_000, dtype=np.uint8).tobytes(),
    }
    out: dict[str, Path] = {}
    for name, data in files.items():
        (d / name).write_bytes(data)
        out[name] = d / name
    Image.new("RGB", (4, 4), (200, 150, 120)).save(d / "tiny.png")
    out["tiny.png"] = d / "tiny.png"
    out["bomb.png"] = write_bomb_png(d / "bomb.png")
    (d / "folder.jpg").mkdir()
    out["folder.jpg"] = d / "folder.jpg"
    out["missing.jpg"] = d / "missing.jpg"  # never created
    return out


def make_corpus(root: Path) -> list[Entry]:
    """Write the corpus under ``root/valid`` and ``root/bad``; returns its entries (sorted)."""
    (root / "valid").mkdir(parents=True, exist_ok=True)
    (root / "bad").mkdir(parents=True, exist_ok=True)
    entries = [Entry(n, p, True) for n, p in _valid(root / "valid").items()]
    entries += [Entry(n, p, False) for n, p in _bad(root / "bad").items()]
    return sorted(entries, key=lambda e: (not e.valid, e.name))


def digest(paths: list[Path]) -> dict[str, str]:
    """sha256 of every existing file (an input must never change)."""
    import hashlib

    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths if p.is_file()}


def arg(p: Path) -> str:
    """A path as a command-line argument: a leading dash is protected with ./ as a user would."""
    s = str(p)
    return s if not os.path.basename(s).startswith("-") or os.path.isabs(s) else f"./{s}"
