"""Run by tests under torchrun: train a tiny ring GAN, then each rank saves its weights."""

import sys
from pathlib import Path

import torch

from ganforge.config import Config, merge
from ganforge.run import train
from ganforge.training import distributed
from ganforge.training.callbacks import Callback


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
    train(config, resume=resume, quiet=True, callbacks=[SaveRankWeights()])
    distributed.barrier()  # nobody leaves the group while another rank still talks to it
    distributed.teardown()


if __name__ == "__main__":
    main()
