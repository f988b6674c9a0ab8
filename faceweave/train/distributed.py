"""torchrun / DistributedDataParallel helpers.

The same command line runs on one process or under ``torchrun --nproc_per_node=N``: when torchrun's
environment variables (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``)
are set, :func:`init_distributed` joins the process group — NCCL when the device is CUDA, gloo on
CPU — and pins the local GPU. Only rank 0 logs, writes TensorBoard and checkpoints
(:attr:`DistContext.is_main`).

Two ways to synchronise gradients are offered: :func:`wrap_ddp` (``DistributedDataParallel``, for
trainers with one forward and one backward per step) and :func:`all_reduce_gradients` (average
``.grad`` over ranks after any number of partial backward passes — what the RSGAN trainer needs,
since Algorithm A1 routes different losses to different networks; mathematically the same
averaging DDP performs).
"""

from __future__ import annotations

import datetime
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import Dataset, DistributedSampler, Sampler

from faceweave.errors import FaceweaveError, ParameterError

log = logging.getLogger(__name__)


@dataclass
class DistContext:
    """Where this process stands: rank, world size, device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    initialized_here: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def resolve_device(device: str | None) -> torch.device:
    """``auto`` / None → CUDA when available, else CPU; otherwise parse (``cpu``, ``cuda``, ``cuda:1``)."""
    if device in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ParameterError("device", device, "was requested but no CUDA GPU is available")
    return dev


def init_distributed(device: str | None = None, timeout_s: float = 1800.0) -> DistContext:
    """Join torchrun's process group if launched by it; otherwise a single-process context."""
    dev = resolve_device(device)
    if not launched_by_torchrun() or int(os.environ.get("WORLD_SIZE", "1")) == 1:
        return DistContext(device=dev)
    rank = int(os.environ["RANK"])
    world = int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if dev.type == "cuda":
        dev = torch.device("cuda", local_rank)
        torch.cuda.set_device(dev)
    backend = "nccl" if dev.type == "cuda" else "gloo"
    initialized_here = False
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, timeout=datetime.timedelta(seconds=timeout_s))
        initialized_here = True
    log.debug("rank %d/%d joined the %s process group on %s", rank, world, backend, dev)
    return DistContext(
        rank=rank, world_size=world, local_rank=local_rank, device=dev, initialized_here=initialized_here
    )


def cleanup_distributed(ctx: DistContext) -> None:
    if ctx.initialized_here and dist.is_initialized():
        dist.destroy_process_group()


def wrap_ddp(module: nn.Module, ctx: DistContext, **kwargs: object) -> nn.Module:
    """``DistributedDataParallel(module)`` on multi-process runs; the module itself otherwise."""
    if not ctx.distributed:
        return module
    ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids, **kwargs)


def broadcast_parameters(module: nn.Module, ctx: DistContext) -> None:
    """Copy rank 0's parameters and buffers to every rank."""
    if not ctx.distributed:
        return
    for t in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(t.data, src=0)


def all_reduce_gradients(params: Iterable[nn.Parameter], ctx: DistContext, bucket_mb: float = 25.0) -> None:
    """Average ``.grad`` over ranks (bucketed). Every rank must hold grads for the same parameters."""
    if not ctx.distributed:
        return
    grads = [p.grad for p in params if p.grad is not None]
    limit = int(bucket_mb * 2**20)
    bucket: list[torch.Tensor] = []
    size = 0
    for g in grads + [None]:
        if g is not None and (
            not bucket or (size + g.numel() * g.element_size() <= limit and g.dtype == bucket[0].dtype)
        ):
            bucket.append(g)
            size += g.numel() * g.element_size()
            continue
        if bucket:
            flat = torch.cat([b.reshape(-1) for b in bucket])
            dist.all_reduce(flat)
            flat /= ctx.world_size
            offset = 0
            for b in bucket:
                b.copy_(flat[offset : offset + b.numel()].view_as(b))
                offset += b.numel()
        bucket, size = ([g], g.numel() * g.element_size()) if g is not None else ([], 0)


def any_rank(flag: bool, ctx: DistContext) -> bool:
    """True on every rank if ``flag`` is true on any rank (e.g. a stop signal)."""
    if not ctx.distributed:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=ctx.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def barrier(ctx: DistContext) -> None:
    if ctx.distributed:
        dist.barrier()


def make_sampler(dataset: Dataset, ctx: DistContext, shuffle: bool = True, seed: int = 0) -> DistributedSampler:
    """A ``DistributedSampler`` for this rank (also fine on one process: world 1, rank 0)."""
    return DistributedSampler(dataset, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=shuffle, seed=seed)


class StepBatchSampler(Sampler[list[int]]):
    """Endless per-rank batches indexed by global step, so a resumed run sees exactly the same batches.

    Epoch ``e``'s order is ``DistributedSampler(seed).set_epoch(e)``; the per-rank stream of indices
    is the concatenation of epochs, cut into batches of ``batch_size``; iteration starts at batch
    ``start_step`` (the number of steps already trained). Batches may straddle epochs, so datasets
    smaller than a batch work too.
    """

    def __init__(self, sampler: DistributedSampler, batch_size: int, start_step: int = 0) -> None:
        if len(sampler) == 0:
            raise FaceweaveError("the dataset is empty")
        self.sampler = sampler
        self.batch_size = batch_size
        self.start_step = start_step

    def _epoch(self, epoch: int) -> list[int]:
        self.sampler.set_epoch(epoch)
        return list(iter(self.sampler))

    def __iter__(self) -> Iterator[list[int]]:
        per_epoch = len(self.sampler)
        first = self.start_step * self.batch_size
        epoch, offset = divmod(first, per_epoch)
        order = self._epoch(epoch)
        while True:
            batch: list[int] = []
            while len(batch) < self.batch_size:
                if offset == per_epoch:
                    epoch, offset = epoch + 1, 0
                    order = self._epoch(epoch)
                take = min(self.batch_size - len(batch), per_epoch - offset)
                batch.extend(order[offset : offset + take])
                offset += take
            yield batch

    def __len__(self) -> int:  # endless; DataLoader only needs this for len(loader)
        return 2**62
