import json
from pathlib import Path

import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.run import train
from ganforge.sampling import load_generator
from ganforge.training.checkpoint import load_file
from ganforge.training.loop import Trainer


def _weights(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def _assert_identical(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_same_seed_same_weights(tiny):
    a, b = Trainer(tiny()), Trainer(tiny())
    a.fit(), b.fit()
    _assert_identical(_weights(a.generator), _weights(b.generator))
    c = Trainer(tiny(train={"seed": 1}))
    c.fit()
    assert not torch.equal(a.generator.net[0].weight, c.generator.net[0].weight)


@pytest.mark.parametrize(
    "loss,extra",
    [
        ("nonsaturating", {"ema": 0.9}),
        ("wasserstein", {"gp_weight": 10.0, "n_critic": 2}),
        ("hinge", {"r1_weight": 1.0, "r1_every": 2}),
    ],
)
def test_resume_is_exact(tmp_path, tiny, loss, extra):
    """2N steps in one run == N steps, then --resume for N more: bit-identical weights."""
    full = tiny(train={"steps": 8, "loss": loss, **extra})
    full.name = "full"
    run_full, _ = train(full, quiet=True)
    half = tiny(train={"steps": 4, "loss": loss, **extra})
    half.name = "half"
    run_half, _ = train(half, quiet=True)
    more = tiny(train={"steps": 8, "loss": loss, **extra})
    more.name = "half"
    train(more, resume=run_half, quiet=True)
    a = load_file(run_full / "checkpoints" / "last.pt")
    b = load_file(run_half / "checkpoints" / "last.pt")
    assert a["step"] == b["step"] == 8
    for key in ("generator", "discriminator"):
        _assert_identical(a[key], b[key])
    if a["ema"]:
        _assert_identical(a["ema"]["module"], b["ema"]["module"])
    assert [h["step"] for h in a["history"]] == [h["step"] for h in b["history"]]
    assert a["history"][-1]["d_loss"] == b["history"][-1]["d_loss"]


def test_run_directory_contents(tiny):
    run_dir, summary = train(tiny(), quiet=True)
    assert summary["steps"] == 6
    assert (run_dir / "config.toml").read_text().count("[train]") == 1
    assert sorted(p.name for p in (run_dir / "samples").glob("*.png")) == [
        "step_0000003.png",
        "step_0000006.png",
    ]
    logs = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [e["step"] for e in logs] == [2, 4, 6]
    assert {"d_loss", "g_loss", "d_acc_real", "d_grad_norm", "g_grad_norm"} <= logs[0].keys()
    ckpts = sorted(p.name for p in (run_dir / "checkpoints").glob("*.pt"))
    assert ckpts == ["last.pt", "step_0000003.pt", "step_0000006.pt"]
    state = load_file(run_dir / "checkpoints" / "last.pt")
    assert {"opt_g", "opt_d", "rng", "sampler", "ema", "scaler", "history"} <= state.keys()
    # generator.pt loads with weights_only and rebuilds the EMA generator exactly
    exported = torch.load(run_dir / "generator.pt", weights_only=True)
    _assert_identical(exported["state_dict"], state["ema"]["module"])
    model = load_generator(run_dir)
    x = model.sample(10, seed=3)
    assert x.shape == (10, 1, 8, 8) and torch.equal(x, model.sample(10, seed=3))
    assert not torch.equal(x, model.sample(10, seed=4))


def test_keep_only_k_periodic_checkpoints(tiny):
    run_dir, _ = train(
        tiny(train={"steps": 10, "checkpoint_every": 2, "keep_checkpoints": 2}), quiet=True
    )
    names = sorted(p.name for p in (run_dir / "checkpoints").glob("step_*.pt"))
    assert names == ["step_0000008.pt", "step_0000010.pt"]


def test_nan_stops_with_step_and_keeps_last_good_checkpoint(tiny, monkeypatch):
    config = tiny(train={"steps": 12, "checkpoint_every": 4, "log_every": 2})
    original = Trainer.train_step

    def poisoned(self, log_now=False):
        if self.step == 6:  # corrupt D's weights from step 7 on
            with torch.no_grad():
                next(self.discriminator.parameters()).fill_(float("nan"))
        original(self, log_now)

    monkeypatch.setattr(Trainer, "train_step", poisoned)
    with pytest.raises(GanforgeError, match="non-finite loss at step 7") as err:
        train(config, quiet=True)
    run_dir = Path(config.out) / config.name
    assert "resume from" in str(err.value)
    state = load_file(run_dir / "checkpoints" / "last.pt")
    assert state["step"] == 4  # the good checkpoint, not overwritten
    assert all(
        torch.isfinite(v).all() for v in state["discriminator"].values() if v.is_floating_point()
    )
    assert not (run_dir / "generator.pt").exists()


def test_resume_with_incompatible_config_is_refused(tiny):
    run_dir, _ = train(tiny(), quiet=True)
    other = tiny(model={"g_width": 16}, train={"steps": 10})
    with pytest.raises(GanforgeError, match=r"incompatible config \(model.g_width: 8 -> 16\)"):
        train(other, resume=run_dir, quiet=True)


def test_training_over_an_existing_run_is_refused(tiny):
    train(tiny(), quiet=True)
    with pytest.raises(GanforgeError, match="already holds a trained run"):
        train(tiny(), quiet=True)


def test_resume_beyond_the_end_needs_more_steps(tiny):
    run_dir, _ = train(tiny(), quiet=True)
    with pytest.raises(GanforgeError, match="already has 6 steps"):
        train(tiny(), resume=run_dir, quiet=True)


def test_metrics_log_is_rewound_on_resume(tiny):
    """After resuming from step 3, log lines past step 3 of the abandoned run are dropped."""
    run_dir, _ = train(tiny(train={"steps": 6, "checkpoint_every": 3}), quiet=True)
    ckpt = run_dir / "checkpoints" / "step_0000003.pt"
    train(tiny(train={"steps": 8}), resume=ckpt, quiet=True)
    steps = [json.loads(x)["step"] for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert steps == [2, 4, 6, 8]
