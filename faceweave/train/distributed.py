"""torchrun / DistributedDataParallel helpers.

The same command line runs on one process or under ``torchrun --nproc_per_node=N``: when torchrun's
environment variables (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``)
are set, :func:`init_distributed` joins the process group — NCCL when the device is CUDA, gloo on
CPU — and pins the local GPU. Only rank 0 logs, writes TensorBoard and checkpoints
(:attr:`DistContext.is_main`).

Two ways to synchronise gradients are offered: :func:`wrap_ddp` (``DistributedDataParallel``, for
trainers with one forward and one backward per step: AEI-Net, person, harmonizer) and
:class:`GradientBuckets` (average ``.grad`` over ranks after any number of partial backward passes,
flattened into buckets with one asynchronous all-reduce each — what the RSGAN trainer needs, since
Algorithm A1 routes different losses to different networks; mathematically the same averaging DDP
performs).

Elastic restarts: under ``torchrun --max-restarts=N`` a failed worker group is restarted;
:func:`elastic_restart_count` tells a trainer it is such a restart, and it then resumes from its
last checkpoint even without ``--resume``. :func:`inject_fault` is the fault-injection hook the
tests use to kill one rank mid-run (``FACEWEAVE_FAULT_KILL=RANK:STEP``, first attempt only).
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import signal
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

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
        timeout = datetime.timedelta(seconds=timeout_s)
        if elastic_restart_count() > 0:
            dist.init_process_group(backend=backend, store=_attempt_store(rank, world, timeout), rank=rank,
                                    world_size=world, timeout=timeout)
        else:
            dist.init_process_group(backend=backend, timeout=timeout)
        initialized_here = True
    log.debug("rank %d/%d joined the %s process group on %s", rank, world, backend, dev)
    return DistContext(
        rank=rank, world_size=world, local_rank=local_rank, device=dev, initialized_here=initialized_here
    )


def _attempt_store(rank: int, world: int, timeout: datetime.timedelta) -> dist.Store:
    """The rendezvous store of an elastic restart, under a prefix of its own.

    torchrun keeps one store across restarts; the default ``env://`` keys would then hand a restarted
    rank the dead attempt's addresses (gloo: "connection refused", or a hang), so each attempt
    gets ``faceweave/attempt{N}/``.
    """
    agent_store = os.environ.get("TORCHELASTIC_USE_AGENT_STORE", "").lower() == "true"
    store = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), world,
                          is_master=rank == 0 and not agent_store, timeout=timeout)
    return dist.PrefixStore(f"faceweave/attempt{elastic_restart_count()}", store)


@contextlib.contextmanager
def distributed_run(device: str | None = None) -> Iterator[DistContext]:
    """``with distributed_run(opts.device) as ctx:`` — join torchrun's group (or not) and always leave it."""
    ctx = init_distributed(device)
    try:
        yield ctx
    except BaseException:
        cleanup_distributed(ctx)  # another rank may be gone: no barrier
        raise
    barrier(ctx)  # every rank done before any tears the group down (an orderly gloo/NCCL shutdown)
    cleanup_distributed(ctx)


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


class GradientBuckets:
    """Average ``.grad`` over ranks in flattened buckets: one asynchronous all-reduce per bucket.

    :meth:`launch` packs the gradients of some parameters into buckets of at most ``bucket_mb`` MB
    (one dtype each), starts one ``all_reduce`` per bucket (``async_op=True``) and returns at once,
    so the caller can go on computing (RSGAN launches the separators' buckets, then runs the
    critics' backward pass while they travel); :meth:`wait` finishes every pending bucket, divides by
    the world size and copies the averages back into ``.grad``. Every rank must launch the same
    parameters in the same order with the same ``.grad`` presence (same config ⇒ same layout).
    """

    def __init__(self, ctx: DistContext, bucket_mb: float = 25.0) -> None:
        self.ctx = ctx
        self.limit = max(1, int(bucket_mb * 2**20))
        self._pending: list[tuple[Any, torch.Tensor, list[torch.Tensor]]] = []
        self._seen: set[int] = set()
        self.buckets_launched = 0

    def _buckets(self, grads: list[torch.Tensor]) -> Iterator[list[torch.Tensor]]:
        bucket: list[torch.Tensor] = []
        size = 0
        for g in grads:
            nbytes = g.numel() * g.element_size()
            if bucket and (size + nbytes > self.limit or g.dtype != bucket[0].dtype or g.device != bucket[0].device):
                yield bucket
                bucket, size = [], 0
            bucket.append(g)
            size += nbytes
        if bucket:
            yield bucket

    def launch(self, params: Iterable[nn.Parameter]) -> None:
        """Start averaging the gradients of ``params`` (each parameter at most once per step)."""
        if not self.ctx.distributed:
            return
        grads = []
        for p in params:
            if p.grad is not None and id(p) not in self._seen:
                self._seen.add(id(p))
                grads.append(p.grad)
        for bucket in self._buckets(grads):
            flat = torch.cat([g.reshape(-1) for g in bucket])
            work = dist.all_reduce(flat, async_op=True)
            self._pending.append((work, flat, bucket))
            self.buckets_launched += 1

    def wait(self) -> None:
        """Finish every launched bucket: ``.grad`` then holds the mean over ranks."""
        for work, flat, bucket in self._pending:
            work.wait()
            flat /= self.ctx.world_size
            offset = 0
            for g in bucket:
                g.copy_(flat[offset : offset + g.numel()].view_as(g))
                offset += g.numel()
        self._pending.clear()
        self._seen.clear()


def all_reduce_gradients(params: Iterable[nn.Parameter], ctx: DistContext, bucket_mb: float = 25.0) -> None:
    """Average ``.grad`` over ranks (bucketed, see :class:`GradientBuckets`). Same parameters on every rank."""
    buckets = GradientBuckets(ctx, bucket_mb)
    buckets.launch(params)
    buckets.wait()


def any_rank(flag: bool, ctx: DistContext) -> bool:
    """True on every rank if ``flag`` is true on any rank (e.g. a stop signal)."""
    if not ctx.distributed:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=ctx.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def mean_over_ranks(values: dict[str, float], ctx: DistContext) -> dict[str, float]:
    """The mean of each scalar over ranks (one all-reduce): what rank 0 logs is the global batch's loss."""
    if not ctx.distributed or not values:
        return values
    t = torch.tensor(list(values.values()), dtype=torch.float64, device=ctx.device)
    dist.all_reduce(t)
    return dict(zip(values, (t / ctx.world_size).tolist(), strict=True))


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

    def state(self, step: int) -> dict[str, int]:
        """Where this rank's stream stands after ``step`` steps (for the checkpoint; a function of the step).

        ``epoch`` is what ``DistributedSampler.set_epoch`` gets for the next batch, ``offset`` the
        position inside that epoch's order; ``seed``/``num_replicas``/``rank``/``batch_size`` say
        which stream it is.
        """
        epoch, offset = divmod(step * self.batch_size, len(self.sampler))
        return {"epoch": epoch, "offset": offset, "seed": int(self.sampler.seed), "batch_size": self.batch_size,
                "num_replicas": int(self.sampler.num_replicas), "rank": int(self.sampler.rank)}


def elastic_restart_count() -> int:
    """How many times torchrun's elastic agent restarted this worker group (0 outside torchrun)."""
    try:
        return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))
    except ValueError:
        return 0


def inject_fault(step: int, ctx: DistContext) -> None:
    """Fault injection for tests: ``FACEWEAVE_FAULT_KILL=RANK:STEP`` SIGKILLs rank RANK after step STEP.

    Only on the first attempt (``TORCHELASTIC_RESTART_COUNT`` 0), so an elastic restart then runs through.
    """
    spec = os.environ.get("FACEWEAVE_FAULT_KILL")
    if not spec or elastic_restart_count() > 0:
        return
    rank, _, at = spec.partition(":")
    if rank.isdigit() and at.isdigit() and int(rank) == ctx.rank and int(at) == step:
        log.warning("FACEWEAVE_FAULT_KILL: rank %d kills itself after step %d", ctx.rank, step)
        os.kill(os.getpid(), signal.SIGKILL)
