"""Training configuration: a YAML file validated by pydantic, plus `key=value` overrides
from the command line (values parsed as YAML: `epochs=5`, `head_options={layers: 2}`)."""

from pathlib import Path
from typing import Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from model.errors import LearnerError
from model.video.augment import Augmentation


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bundle: str  # corpus bundle directory
    # mode features: the feature cache of the training list (model.features.extract)
    train_features: str | None = None
    val_features: str | None = None  # features mode only (the cache's encoder is frozen)
    out: str  # run directory: checkpoints, metrics.csv, run.json
    head: str = "storyboard"
    head_options: dict = Field(default_factory=dict)  # layers, heads, dropout, branches, …
    # features: heads on cached frozen-encoder features; finetune: the open_clip visual
    # encoder trained end to end with the head, on frames decoded from `train_list`.
    mode: Literal["features", "finetune"] = "features"
    train_list: str | None = None  # finetune: list file (model.video.lists formats)
    videos: str | None = None  # finetune: root of the list's relative paths
    visual_lr: float = Field(1e-5, gt=0)  # finetune: peak lr of the visual encoder
    decode_workers: int = Field(2, ge=0)  # finetune: PyAV decoding processes
    # finetune: one random resized crop, flip and grayscale draw per training clip, the
    # paper's unless set (model.video.augment); null: the centre crop, as at test time.
    # Features mode has none (its frames were encoded once, unaugmented).
    augment: Augmentation | None = None
    encoder: str | None = None  # bundle encoder id; default: its first open_clip encoder
    frames: int = Field(8, ge=1)  # L, sampled TSN-style among the cached frames
    epochs: int = Field(10, ge=1)
    batch_size: int = Field(32, ge=2)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.02, ge=0)
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_epochs: float = Field(1.0, ge=0)
    grad_clip: float | None = Field(1.0, gt=0)
    temperature: float = Field(0.07, gt=0)
    learn_temperature: bool = True
    v2t_weight: float = Field(1.0, ge=0)  # λ of Eq. (15)
    # Multi-label lists (`path l1,l2,…`, Charades): every labelled class is a positive,
    # evaluation reports mAP over per-class sigmoid scores.
    multilabel: bool = False
    loss: str = "infonce"  # a name in model.losses.LOSSES: infonce | bce
    drop_sot: bool = True
    few_shot_k: int | None = Field(None, ge=1)  # K videos per class, sampled with few_shot_seed
    few_shot_seed: int = 0
    seed: int = 0
    amp: bool = True  # CUDA only; CPU runs in float32 and deterministically
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # Heads on cached features are small: one thread per process avoids oversubscribing
    # the cores (torchrun ranks, decoding workers), which made steps 30x slower here.
    cpu_threads: int = Field(1, ge=1)
    progress: bool = True

    @model_validator(mode="after")
    def _inputs_match_mode(self) -> "TrainConfig":
        needs = {"features": "train_features", "finetune": "train_list"}[self.mode]
        if getattr(self, needs) is None:
            raise ValueError(f"mode {self.mode} needs `{needs}`")
        if self.mode == "finetune" and self.val_features:
            raise ValueError("val_features hold the frozen encoder's features, which do "
                             "not describe a fine-tuned one; leave it unset in finetune mode")
        if self.mode == "features" and self.augment:
            raise ValueError("augment transforms decoded frames (mode finetune); cached "
                             "features were encoded without it")
        if self.mode == "finetune" and "augment" not in self.model_fields_set:
            self.augment = Augmentation()
        return self

    @field_validator("loss")
    @classmethod
    def _known_loss(cls, name: str) -> str:
        from model.losses import LOSSES

        if name not in LOSSES:
            raise ValueError(f"unknown loss {name!r}; known: {sorted(LOSSES)}")
        return name

    def fingerprint(self) -> dict:
        """The fields a resumed run must share with the run that wrote the checkpoint."""
        return self.model_dump(exclude={"epochs", "out", "progress", "val_features", "device",
                                         "cpu_threads", "decode_workers"})


def load_train_config(path: str | None, overrides: list[str]) -> TrainConfig:
    raw: dict = {}
    if path:
        try:
            raw = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as err:
            raise LearnerError(f"config {path}: {err}") from None
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise LearnerError(f"override {item!r}: expected key=value")
        raw[key.strip().replace("-", "_")] = yaml.safe_load(value)
    return validate_train_config(raw, f"config {path or '(command line)'}")


def validate_train_config(raw: dict, where: str) -> TrainConfig:
    """TrainConfig from `raw`; a LearnerError naming `where` and each bad field if invalid."""
    try:
        return TrainConfig.model_validate(raw)
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        raise LearnerError(f"{where}: {problems}") from None
