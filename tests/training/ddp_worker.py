"""Run by tests under torchrun: train a tiny ring GAN, then each rank saves its weights.

GANFORGE_TEST_SIGTERM=RANK:STEP: that rank alone sends itself SIGTERM after STEP (the test of
how the ranks agree to stop); the interrupted worker exits 130.
"""

import os
import signal
import sys
from pathlib import Path

import torch

from ganforge.config import Config, merge
from ganforge.run import train
from ganforge.training import distributed
from ganforge.training.callbacks import Callback
from ganforge.training.loop import TrainingInterrupted


class SaveRankWeights(Callback):
    """Each rank writes its own live weights, so the test can check they stayed in sync."""

    def on_train_end(self, trainer) -> None:
        path = Path(trainer.run_dir) / f"rank{trainer.dist.rank}.pt"
        torch.save(
            {
                "generator": trainer.generator.state_dict(),
                "discriminator": trainer.discriminator.state_dict(),
            },
            path,
        )


class SigtermAt(Callback):
    """Test-only: SIGTERM to this process after `step` on rank `rank`."""

    def __init__(self, rank: int, step: int):
        self.rank, self.step = rank, step

    def on_step_end(self, trainer) -> None:
        if trainer.dist.rank == self.rank and trainer.step == self.step:
            os.kill(os.getpid(), signal.SIGTERM)


def main() -> None:
    out, name, steps, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    resume = sys.argv[5] if len(sys.argv) > 5 else None
    torch.set_num_threads(1)
    config = merge(
        Config(),
        {
            "data": {"source": "ring"},
            "model": {"arch": "mlp", "latent_dim": 4, "g_width": 16, "d_width": 16},
            "train": {
                "steps": steps,
                "batch_size": batch,
                "log_every": 2,
                "sample_every": 0,
                "checkpoint_every": 4,
                "lr_g": 1e-3,
                "lr_d": 1e-3,
                "ema": 0.9,
                "tensorboard": False,
                "gp_weight": 1.0,
            },
        },
    )
    config.out, config.name = out, name
    callbacks = [SaveRankWeights()]
    if os.environ.get("GANFORGE_TEST_SIGTERM"):
        rank, step = map(int, os.environ["GANFORGE_TEST_SIGTERM"].split(":"))
        callbacks.append(SigtermAt(rank, step))
    code = 0
    try:
        train(config, resume=resume, quiet=True, callbacks=callbacks)
        left = not torch.distributed.is_initialized()  # a finished fit() left the group
        Path(out, name, f"rank{os.environ['RANK']}.group").write_text("left" if left else "joined")
    except TrainingInterrupted as e:
        print(f"rank {distributed.setup('cpu').rank}: {e}", file=sys.stderr)
        code = 130
    distributed.barrier()  # an interrupted run is still in the group: leave it together
    distributed.teardown()
    sys.exit(code)


if __name__ == "__main__":
    main()
