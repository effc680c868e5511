"""What `fit` records per epoch. Plain data, importable without torch: reading the run store (`rnnlab runs`) builds
one per stored run. rnnlab.train.History is this class."""
from dataclasses import asdict, dataclass, field, fields


@dataclass
class History:
    """Per-epoch curves of one `fit`, as lists with one entry per epoch trained."""

    loss: list = field(default_factory=list)
    accuracy: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_accuracy: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    best_epoch: int | None = None  # set by early stopping: the epoch (from 1) whose weights were restored
    # ‖∂h_t/∂x_0‖ for t = 0 … T-1 at initialisation and after each epoch (epochs + 1 curves), where runs.run
    # recorded it (rnnlab.memory.influence_curve on the first test sequences); empty otherwise
    influence: list = field(default_factory=list)

    @property
    def epochs(self):
        return len(self.loss)

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, d):
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown History keys {unknown}; allowed: {sorted(known)}")
        return cls(**{k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in d.items()})
