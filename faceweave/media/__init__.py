"""Media in and out: photos (EXIF, alpha, 16-bit, gray, CMYK), video with audio, provenance tags."""

from faceweave.media.image import Picture, as_picture, check_output_path, read_image, write_image

__all__ = ["Picture", "as_picture", "check_output_path", "read_image", "write_image"]
