"""Frozen pretrained face networks, converted from MIT-licensed npm packages (scripts/convert_face_nets.py).

=================  =====================================  ============================================
name               module                                 what it gives
=================  =====================================  ============================================
identity512        :class:`mobilefacenet.MobileFaceNet`   512-D ArcFace-style identity (faceplugin)
mobilefacenet192   :class:`mobilefacenet.MobileFaceNet`   192-D second identity opinion (expo)
pose               :class:`pose.HopenetShuffleNet`        yaw / pitch / roll (Hopenet, 66 bins)
expression         :class:`densenet.DenseNet121`          7 expression logits + perceptual features
=================  =====================================  ============================================

``load(name, device)`` returns a frozen module (weights from faceweave/weights, listed in
``faceweave models``). Crops: :mod:`faceweave.nets.align`; losses: :mod:`faceweave.nets.losses`.
Every module takes RGB in [0, 1] as (B, 3, S, S) and normalises inside.
"""

from __future__ import annotations

from faceweave.nets.loading import NETS, build, load

__all__ = ["NETS", "build", "load"]
