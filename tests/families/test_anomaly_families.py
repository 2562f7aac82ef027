"""GANomaly and f-AnoGAN families: losses and scores against formulas written out here, the
f-AnoGAN phase switch on the one loop, eval-mode scoring, exact resume across the phases."""

from __future__ import annotations

import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.families import make_family
from ganforge.nets.dcgan import DCGANDiscriminator
from ganforge.nets.encoders import discriminator_features
from ganforge.nets.mlp import MLPDiscriminator
from ganforge.training.callbacks import Callback
from ganforge.training.loop import Trainer

TINY_NETS = {"latent_dim": 8, "g_width": 8, "d_width": 8}


def ganomaly_config(tiny, **model):
    return tiny(model={"family": "ganomaly", **TINY_NETS, **model}, train={"ema": 0.0})


def fanogan_config(tiny, steps=6, gan_steps=3, **train):
    return tiny(
        model={"family": "fanogan", **TINY_NETS, "d_norm": "none"},
        train={
            "steps": steps,
            "fanogan_gan_steps": gan_steps,
            "loss": "wasserstein",
            "gp_weight": 10.0,
            "n_critic": 2,
            "ema": 0.0,
            "checkpoint_every": 3,
            **train,
        },
    )


def built(config, shape=(1, 8, 8)):
    config.model.sample_shape = list(shape)
    family = make_family(config)
    torch.manual_seed(0)
    G, D = family.build()
    return family, G, D


def test_ganomaly_loss_is_the_weighted_sum_of_its_three_terms(tiny):
    config = ganomaly_config(tiny, ganomaly_w_adv=0.7, ganomaly_w_con=50.0, ganomaly_w_enc=3.0)
    family, G, D = built(config)
    x = torch.rand(5, 1, 8, 8) * 2 - 1
    torch.manual_seed(1)
    loss, logs = family.generator_loss(G, D, x, None, 0)
    # Written out from the paper's definitions, calling the three nets one by one.
    z = G.encoder(x)
    x_rec = G.decoder(z)
    z_rec = G.encoder2(x_rec)
    f_real = D.features(x).flatten(1)
    f_fake = D.features(x_rec).flatten(1)
    adv = ((f_real - f_fake) ** 2).sum() / f_real.numel()
    con = (x - x_rec).abs().sum() / x.numel()
    enc = ((z - z_rec) ** 2).sum() / z.numel()
    assert torch.allclose(loss, 0.7 * adv + 50.0 * con + 3.0 * enc, rtol=1e-5)
    assert torch.allclose(logs["g_con"], con) and torch.allclose(logs["g_enc"], enc)


def test_ganomaly_score_is_the_mean_absolute_latent_gap(tiny):
    family, G, D = built(ganomaly_config(tiny))
    G.eval()
    x = torch.rand(4, 1, 8, 8) * 2 - 1
    scores, rec = family.anomaly_score(G, D, x)
    z = G.encoder(x)
    z_rec = G.encoder2(G.decoder(z))
    expected = torch.stack([(z[i] - z_rec[i]).abs().sum() / z.shape[1] for i in range(4)])
    assert scores.shape == (4,)
    assert torch.allclose(scores, expected, rtol=1e-5)
    assert torch.allclose(rec, G.decoder(z))


def test_fanogan_score_is_izi_f(tiny):
    config = fanogan_config(tiny)
    config.family_settings("fanogan").kappa = 2.5
    family, G, D = built(config)
    G.eval()
    x = torch.rand(3, 1, 8, 8) * 2 - 1
    scores, rec = family.anomaly_score(G, D, x)
    expected = []
    for i in range(3):
        xi = x[i : i + 1]
        ri = G.generator(G.encoder(xi))
        residual = ((xi - ri) ** 2).sum() / xi.numel()
        fi, fr = D.features(xi).flatten(), D.features(ri).flatten()
        expected.append(residual + 2.5 * ((fi - fr) ** 2).sum() / fi.numel())
    assert torch.allclose(scores, torch.stack(expected), rtol=1e-5)
    assert rec.shape == x.shape


def test_discriminator_features_are_what_the_last_layer_reads():
    conv = DCGANDiscriminator(1, 8, 8, norm="none").eval()
    x = torch.randn(2, 1, 8, 8)
    f = discriminator_features(conv, x)
    assert torch.allclose(conv.head(f.view(2, -1, 4, 4)).flatten(), conv(x))
    mlp = MLPDiscriminator((5,), 16, 2)
    v = torch.randn(3, 5)
    assert torch.allclose(mlp.net[-1](discriminator_features(mlp, v)).flatten(), mlp(v))


def test_scores_use_running_statistics_not_the_batch(tiny):
    family, G, D = built(ganomaly_config(tiny))
    G.eval()
    D.eval()
    x = torch.rand(6, 1, 8, 8) * 2 - 1
    before = [b.clone() for b in G.buffers()]
    together = family.anomaly_score(G, D, x)[0]
    alone = torch.cat([family.anomaly_score(G, D, x[i : i + 1])[0] for i in range(6)])
    assert torch.allclose(together, alone, atol=1e-6)
    assert all(torch.equal(a, b) for a, b in zip(before, G.buffers(), strict=True))


def test_fanogan_phases_on_the_one_loop(tiny):
    trainer = Trainer(fanogan_config(tiny, steps=4, gan_steps=2))
    family = trainer.family
    assert [family.train_discriminator(s) for s in range(4)] == [True, True, False, False]
    G, D = trainer.generator, trainer.discriminator
    encoder0 = [p.clone() for p in G.encoder.parameters()]
    trainer.config.train.steps = 2
    trainer.fit()  # the WGAN phase: the encoder is untouched
    assert all(torch.equal(a, b) for a, b in zip(encoder0, G.encoder.parameters(), strict=True))
    gen1 = {k: v.clone() for k, v in G.generator.state_dict().items()}
    d1 = {k: v.clone() for k, v in D.state_dict().items()}
    trainer.config.train.steps = 4
    trainer.fit()  # the encoder phase: G (weights and BatchNorm statistics) and D frozen
    assert all(torch.equal(gen1[k], v) for k, v in G.generator.state_dict().items())
    assert all(torch.equal(d1[k], v) for k, v in D.state_dict().items())
    assert not all(torch.equal(a, b) for a, b in zip(encoder0, G.encoder.parameters(), strict=True))
    assert "enc_residual" in trainer.history[-1]


def test_fanogan_resume_across_the_phase_boundary_is_exact(tiny, tmp_path):
    from ganforge.run import train

    straight = fanogan_config(tiny, steps=6, gan_steps=3)
    straight.name = "straight"
    run_a, _ = train(straight, quiet=True)
    first = fanogan_config(tiny, steps=6, gan_steps=3)
    first.name = "resumed"
    run_b, _ = train(first, quiet=True, callbacks=[_StopAt(3)])
    resumed = fanogan_config(tiny, steps=6, gan_steps=3)
    resumed.name = "resumed"
    train(resumed, resume=run_b, quiet=True)
    a = torch.load(run_a / "checkpoints" / "last.pt", weights_only=True)
    b = torch.load(run_b / "checkpoints" / "last.pt", weights_only=True)
    assert b["step"] == a["step"] == 6
    for key in ("generator", "discriminator"):
        for name, value in a[key].items():
            assert torch.equal(value, b[key][name]), (key, name)


class _StopAt(Callback):
    """Ask the trainer to stop after `step` steps (the Checkpointer saves last.pt)."""

    def __init__(self, step):
        self.step = step

    def on_step_end(self, trainer):
        if trainer.step >= self.step:
            trainer.stop_requested = True


def test_ganomaly_trains_on_vectors_with_mlps(tiny):
    config = tiny(
        data={"source": "ring"},
        model={"family": "ganomaly", "arch": "mlp", "latent_dim": 2, "g_width": 16, "d_width": 16},
        train={"ema": 0.0, "steps": 4},
    )
    trainer = Trainer(config)
    summary = trainer.fit()
    assert summary["steps"] == 4 and {"g_con", "g_enc", "g_adv"} <= set(summary["last"])


@pytest.mark.parametrize("bad", [{"pack": 2}, {"minibatch_std": True}])
def test_batch_mixing_discriminators_are_refused(tiny, bad):
    config = ganomaly_config(tiny, **bad)
    config.model.sample_shape = [1, 8, 8]
    with pytest.raises(GanforgeError, match="sample by sample"):
        make_family(config).build()


@pytest.mark.parametrize("gan_steps", [0, 6, 9])
def test_fanogan_needs_both_phases(tiny, gan_steps):
    with pytest.raises(GanforgeError, match="fanogan_gan_steps"):
        make_family(fanogan_config(tiny, steps=6, gan_steps=gan_steps))
