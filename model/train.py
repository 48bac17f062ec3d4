"""Train a head on cached frame features.

    python -m model.train --config run.yaml [key=value …]
    torchrun --nproc_per_node=N -m model.train --config run.yaml     # DDP: gloo on CPU, NCCL on GPU

A checkpoint per epoch (`<out>/checkpoints/epoch-NNNN.pt`) holds the head, optimizer,
scheduler, RNG states, epoch and step; a rerun of the same command resumes from the
newest one and reaches the same weights as a run that was never interrupted. Per-step
and per-epoch metrics go to `steps.csv` and `metrics.csv` (and as TensorBoard scalars to
`tensorboard/`), the summary to `run.json`.
"""

import argparse
import csv
import json
import math
import os
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

from model.bundle import Bundle, load_bundle
from model.checkpoint import head_from_config, load_checkpoint, save_checkpoint
from model.config import TrainConfig, load_train_config
from model.data import (
    class_targets,
    epoch_batches,
    few_shot_indices,
    region_views,
    train_batch,
    train_regions,
    view_clips,
)
from model.errors import LearnerError
from model.features.cache import FeatureCache
from model.heads.text import ClassTexts
from model.losses import LOSSES

STEP_FIELDS = ["epoch", "step", "loss", "lr"]
EPOCH_FIELDS = ["epoch", "step", "train_loss", "val_top1", "lr", "seconds"]


def warmup_cosine(step: int, warmup_steps: int, total_steps: int) -> float:
    """LR multiplier: linear warm-up from 0, then cosine decay to 0."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def region_batch(cache: FeatureCache, videos: np.ndarray, frames: int, seed: int,
                 epoch: int) -> torch.Tensor | None:
    """Region tokens (B, L, K, D) aligned with `train_batch`, or None for a cache without
    them (heads then use each frame as its single region)."""
    if not cache.has_regions:
        return None
    return train_regions(cache, videos, frames, seed, epoch)


@dataclass
class TrainInputs:
    """What a training mode feeds the loop (`INPUTS[cfg.mode]`)."""

    videos: Any  # FeatureCache or model.finetune.DecodedClips: labels, label_sets, paths, failed
    # (groups of video indices, epoch) -> per group (model input, region tokens or None)
    batches: Callable[[list[np.ndarray], int], Iterator[tuple[torch.Tensor, Any]]]
    encoders: dict[str, torch.nn.Module] = field(default_factory=dict)  # trained with the head
    wrap: Callable[[torch.nn.Module], torch.nn.Module] = lambda head: head


def _feature_inputs(cfg: TrainConfig, bundle: Bundle, device: str) -> TrainInputs:
    cache = FeatureCache.open(cfg.train_features)
    if cache.meta["weights_sha256"] != bundle.encoder["weights_sha256"]:
        raise LearnerError(f"{cfg.train_features}: features were extracted with encoder "
                           f"weights {cache.meta['weights_sha256'][:16]}…, the bundle's text "
                           f"encoder has {bundle.encoder['weights_sha256'][:16]}…")

    def batches(groups: list[np.ndarray], epoch: int):
        for videos in groups:
            x, _ = train_batch(cache, videos, cfg.frames, cfg.seed, epoch)
            yield x, region_batch(cache, videos, cfg.frames, cfg.seed, epoch)

    return TrainInputs(cache, batches)


def _finetune_inputs(cfg: TrainConfig, bundle: Bundle, device: str) -> TrainInputs:
    from model.finetune import DecodedClips, FinetuneModel, load_visual

    visual = load_visual(bundle).to(device)
    pre = visual.preprocess_cfg
    size = pre["size"][0] if isinstance(pre["size"], tuple | list) else pre["size"]
    clips = DecodedClips(bundle, cfg.train_list, cfg.videos, cfg.frames, size, pre["mean"],
                         pre["std"], cfg.seed, cfg.decode_workers, cfg.augment)
    return TrainInputs(clips, lambda groups, epoch: ((x, None) for x in
                                                     clips.batches(groups, epoch)),
                       {"visual": visual}, lambda head: FinetuneModel(visual, head))


INPUTS: dict[str, Callable[[TrainConfig, Bundle, str], TrainInputs]] = {
    "features": _feature_inputs,
    "finetune": _finetune_inputs,
}


def parameter_groups(head: torch.nn.Module, weight_decay: float) -> list[dict]:
    # No decay on biases, norms, position embeddings and the temperature: the usual
    # AdamW practice (CLIP, timm), since decaying them only pulls them toward 0.
    decay, keep = [], []
    for name, p in head.named_parameters():
        (decay if p.dim() >= 2 and "position" not in name else keep).append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": keep, "weight_decay": 0.0}]


def _checkpoints(out: Path) -> list[Path]:
    return sorted((out / "checkpoints").glob("epoch-*.pt"))


def _rewrite_csv(path: Path, fields: list[str], keep_through_epoch: int) -> None:
    """Drop rows from epochs after the checkpoint (an interrupted epoch is redone)."""
    rows = []
    if path.is_file():
        with path.open() as f:
            rows = [r for r in csv.DictReader(f) if int(r["epoch"]) <= keep_through_epoch]
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fields)
        writer.writeheader()
        writer.writerows(rows)


def _append_csv(path: Path, fields: list[str], row: dict) -> None:
    with path.open("a", newline="") as f:
        csv.DictWriter(f, fields).writerow(row)
        f.flush()


def _tensorboard(out: Path, step: int):
    """Scalars for TensorBoard under <out>/tensorboard. On resume, `purge_step` makes
    TensorBoard drop events logged after the checkpoint's step (the interrupted epoch's
    first attempt), as `_rewrite_csv` does for the CSVs; it drops steps >= purge_step,
    and the checkpoint's own step (its epoch's last) must stay."""
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(str(out / "tensorboard"), purge_step=step + 1 if step else None)


def _setup_distributed(device: str) -> tuple[int, int]:
    if int(os.environ.get("WORLD_SIZE", 1)) <= 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device == "cuda" else "gloo")
    if device == "cuda":
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    return dist.get_rank(), dist.get_world_size()


def _gather(local: torch.Tensor, world: int) -> torch.Tensor:
    """Concatenate every rank's rows, keeping the autograd graph: every rank then computes
    the same whole-batch loss, and the gradients DDP averages sum to the single-process
    gradient (InfoNCE's T2V term couples all videos of the batch)."""
    if world == 1:
        return local
    import torch.distributed.nn.functional as dist_fn

    return torch.cat(dist_fn.all_gather(local))


@torch.no_grad()
def quick_accuracy(head, cache: FeatureCache, text: ClassTexts, frames: int,
                   device: str, targets: np.ndarray | None = None) -> float:
    """Top-1 with one centre view (the full protocol is model.evaluate); with multi-hot
    `targets` (V, C), the fraction whose top class is one of its labels."""
    head.eval()
    clips = view_clips(cache.all()[:, :1], frames, 1)[:, 0]
    regions = region_views(cache, frames, 1, crops=1)
    logits = head(torch.from_numpy(clips).to(device), text, regions=None if regions is None
                  else torch.from_numpy(regions[:, 0]).to(device))
    head.train()
    predicted = logits.argmax(1).cpu().numpy()
    if targets is not None:
        return float(targets[np.arange(len(predicted)), predicted].mean())
    return float((predicted == cache.labels).mean())


def train(cfg: TrainConfig) -> dict:
    device = cfg.device if cfg.device != "auto" else (
        "cuda" if torch.cuda.is_available() else "cpu")
    rank, world = _setup_distributed(device)
    if device == "cpu":
        torch.use_deterministic_algorithms(True)
        torch.set_num_threads(cfg.cpu_threads)
    out = Path(cfg.out)
    bundle = load_bundle(cfg.bundle, cfg.encoder)
    inputs = INPUTS[cfg.mode](cfg, bundle, device)
    cache = inputs.videos
    val = FeatureCache.open(cfg.val_features) if cfg.val_features else None
    text = ClassTexts.from_bundle(bundle, cfg.drop_sot).to(device)
    # (V, C) one-hot or multi-hot: every loss takes targets, so one path serves both.
    targets = class_targets(cache, len(bundle.classes), cfg.multilabel)
    val_targets = (class_targets(val, len(bundle.classes), True)
                   if val is not None and cfg.multilabel else None)
    loss_fn = LOSSES[cfg.loss]
    pool = (few_shot_indices(cache.labels, cfg.few_shot_k, cfg.few_shot_seed)
            if cfg.few_shot_k else np.arange(len(cache)))
    if len(pool) < 2:
        raise LearnerError(f"{cfg.train_features or cfg.train_list}: {len(pool)} training "
                           f"videos; need 2")
    batch = min(cfg.batch_size, len(pool))
    if batch % world:
        raise LearnerError(f"batch_size {batch} is not divisible by {world} ranks")
    steps_per_epoch = len(epoch_batches(len(pool), batch, cfg.seed, 0))
    total_steps = cfg.epochs * steps_per_epoch

    torch.manual_seed(cfg.seed)
    head = head_from_config(cfg, bundle).to(device)
    groups = parameter_groups(head, cfg.weight_decay)
    for encoder in inputs.encoders.values():  # finetune: the visual encoder at visual_lr
        groups += [g | {"lr": cfg.visual_lr}
                   for g in parameter_groups(encoder, cfg.weight_decay)]
    optimizer = torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas)
    warmup = round(cfg.warmup_epochs * steps_per_epoch)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: warmup_cosine(s, warmup, total_steps))
    use_amp = cfg.amp and device == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)

    start_epoch, step = 0, 0
    found = _checkpoints(out)
    if found:
        state = load_checkpoint(found[-1])
        if state["fingerprint"] != cfg.fingerprint():
            changed = sorted(k for k in cfg.fingerprint()
                             if state["fingerprint"].get(k) != cfg.fingerprint()[k])
            raise LearnerError(f"{found[-1]}: written by a run with different settings "
                               f"({', '.join(changed)}); use another `out` to start afresh")
        head.load_state_dict(state["head"])
        for name, encoder in inputs.encoders.items():
            encoder.load_state_dict(state[name])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["rng"]["torch"])
        random.setstate(state["rng"]["python"])
        start_epoch, step = state["epoch"], state["step"]
    net = inputs.wrap(head)
    model = net
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(
            net, device_ids=[torch.cuda.current_device()] if device == "cuda" else None)

    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        _rewrite_csv(out / "steps.csv", STEP_FIELDS, start_epoch)
        _rewrite_csv(out / "metrics.csv", EPOCH_FIELDS, start_epoch)
    board = _tensorboard(out, step) if rank == 0 else None
    net.train()
    trainable = [p for g in optimizer.param_groups for p in g["params"]]
    started = time.perf_counter()
    for epoch in range(start_epoch, cfg.epochs):
        t0, losses = time.perf_counter(), []
        batches = epoch_batches(len(pool), batch, cfg.seed, epoch)
        stream = inputs.batches([pool[p][rank::world] for p in batches], epoch)
        for positions in tqdm(batches, desc=f"epoch {epoch + 1}/{cfg.epochs}",
                              disable=not cfg.progress or rank != 0, leave=False):
            videos = pool[positions]
            x, regions = next(stream)
            labels = torch.from_numpy(np.concatenate(
                [targets[videos[r::world]] for r in range(world)])).to(device)
            with torch.autocast("cuda", enabled=use_amp):
                logits = _gather(model(x.to(device), text, regions=None if regions is None
                                       else regions.to(device)), world)
                loss = loss_fn(logits.float(), labels, cfg.v2t_weight)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if cfg.grad_clip:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(trainable, cfg.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            step += 1
            losses.append(loss.item())
            if rank == 0:
                _append_csv(out / "steps.csv", STEP_FIELDS, {
                    "epoch": epoch + 1, "step": step, "loss": f"{loss.item():.6f}",
                    "lr": f"{scheduler.get_last_lr()[0]:.8g}"})
                board.add_scalar("train/loss", loss.item(), step)
                board.add_scalar("train/lr", scheduler.get_last_lr()[0], step)
        val_top1 = quick_accuracy(head, val, text, cfg.frames, device,
                                  val_targets) if val else None
        if rank == 0:
            save_checkpoint(out / "checkpoints" / f"epoch-{epoch + 1:04d}.pt", {
                "head": head.state_dict(), "optimizer": optimizer.state_dict(),
                **{name: m.state_dict() for name, m in inputs.encoders.items()},
                "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(),
                "rng": {"torch": torch.get_rng_state(), "python": random.getstate()},
                "epoch": epoch + 1, "step": step, "fingerprint": cfg.fingerprint(),
                "config": cfg.model_dump(), "classes": bundle.class_names,
                "encoder": bundle.encoder})
            _append_csv(out / "metrics.csv", EPOCH_FIELDS, {
                "epoch": epoch + 1, "step": step,
                "train_loss": f"{np.mean(losses):.6f}",
                "val_top1": "" if val_top1 is None else f"{val_top1:.4f}",
                "lr": f"{scheduler.get_last_lr()[0]:.8g}",
                "seconds": f"{time.perf_counter() - t0:.2f}"})
            board.add_scalar("train/epoch_loss", float(np.mean(losses)), step)
            if val_top1 is not None:
                board.add_scalar("val/top1", val_top1, step)
            board.flush()  # on disk with its checkpoint, so a resume loses nothing
        if world > 1:
            dist.barrier()  # no rank starts an epoch before its checkpoint exists
    if board is not None:
        board.close()
    summary = {
        "head": cfg.head, "mode": cfg.mode, "epochs": cfg.epochs, "steps": step,
        "world_size": world,
        "train_videos": len(pool), "resumed_from_epoch": start_epoch,
        "seconds": round(time.perf_counter() - started, 2),
        "skipped_videos": {"count": len(cache.failed), "videos": cache.failed},
        # The sampled videos themselves, so a few-shot result can name its training set.
        "few_shot": None if not cfg.few_shot_k else {
            "k": cfg.few_shot_k, "seed": cfg.few_shot_seed,
            "videos": [cache.paths[i] for i in pool]},
        "encoder": {k: bundle.encoder.get(k) for k in ("id", "model", "weights", "seed",
                                                     "weights_sha256")},
        "checkpoint": str(_checkpoints(out)[-1]) if rank == 0 else None,
    }
    if rank == 0:
        (out / "run.json").write_text(json.dumps(summary, indent=1))
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train a video head on cached features.")
    parser.add_argument("--config", help="YAML file of TrainConfig fields")
    parser.add_argument("overrides", nargs="*", help="key=value, e.g. head=temporal epochs=5")
    args = parser.parse_args(argv)
    try:
        cfg = load_train_config(args.config, args.overrides)
        summary = train(cfg)
    except LearnerError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    if int(os.environ.get("RANK", 0)) == 0:
        brief = {k: v for k, v in summary.items() if k != "skipped_videos"}
        print(json.dumps(brief | {"skipped_videos": summary["skipped_videos"]["count"]}))


if __name__ == "__main__":
    main()
