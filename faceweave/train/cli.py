"""``faceweave train MODEL ...``: mounts each trainer's own options under one command."""

from __future__ import annotations

import argparse

from faceweave.errors import FaceweaveError


def add_train_args(parser: argparse.ArgumentParser) -> None:
    from faceweave.train.rsgan import add_train_rsgan_args

    sub = parser.add_subparsers(dest="model", required=True, metavar="MODEL")
    add_train_rsgan_args(sub.add_parser("rsgan", help="train RSGAN (paper Algorithm A1)"))
    from faceweave.train.aei import add_train_aei_args

    add_train_aei_args(sub.add_parser("aei", help="train AEI-Net (FaceShifter, seed 001)"))
    from faceweave.train.person import add_train_person_args

    add_train_person_args(sub.add_parser("person", help="train one person's face-swap network (Korshunova et al.)"))
    from faceweave.train.harmonizer import add_train_harmonizer_args

    add_train_harmonizer_args(sub.add_parser("harmonizer", help="train the seed-004 harmonizer GAN"))


def run_train(args: argparse.Namespace) -> int:
    if args.model == "harmonizer":
        from faceweave.train import harmonizer

        harmonizer.train(harmonizer.options_from_args(args))
        return 0
    if args.model == "aei":
        from faceweave.train.aei import options_from_args as aei_options
        from faceweave.train.aei import train as train_aei

        train_aei(aei_options(args))
        return 0
    if args.model == "person":
        from faceweave.train.person import options_from_args as person_options
        from faceweave.train.person import train as train_person

        train_person(person_options(args))
        return 0
    if args.model != "rsgan":
        raise FaceweaveError(f"unknown model '{args.model}'")
    from faceweave.train.rsgan import options_from_args, train

    train(options_from_args(args))
    return 0
