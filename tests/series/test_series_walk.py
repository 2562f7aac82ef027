"""Walking channels: a column whose step changes look white (a random walk's, as prices) is
detected, named in the decisions, and written by the mlp generator as a first value plus
changes; a smooth or mean-reverting column is not. Per-step noise of a learned scale starts
where the changes are white or mean-reverting, not where they are smooth; a walking channel's
changes come in units of the real changes' spread (logit space)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ganforge.families.series import SeriesGenerator
from ganforge.series.data import SeriesEncoder, increment_lag1


def frame(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    walk = np.cumsum(rng.normal(0, 1, n))
    t = np.arange(n)
    ar = np.zeros(n)  # AR(1) with coefficient 0.4: changes' lag-1 = -(1 - 0.4) / 2 = -0.3
    for i in range(1, n):
        ar[i] = 0.4 * ar[i - 1] + rng.normal()
    return pd.DataFrame({"price": walk, "smooth": np.sin(t / 15.0), "volume": ar})


def test_increment_lag1_matches_numpy_corrcoef_and_the_ar1_formula():
    data = frame(6000)
    windows, _ = SeriesEncoder().fit(data, 24)
    features = 3
    for c, column in enumerate(["price", "smooth", "volume"]):
        change = np.diff(windows[:, :, c].astype(np.float64), axis=1)
        reference = np.corrcoef(change[:, 1:].ravel(), change[:, :-1].ravel())[0, 1]
        assert abs(increment_lag1(windows, c, features) - reference) < 0.01, column
    assert abs(increment_lag1(windows, 0, features)) < 0.05  # white changes
    assert increment_lag1(windows, 1, features) > 0.9  # smooth
    assert abs(increment_lag1(windows, 2, features) + 0.3) < 0.05  # AR(1) 0.4


def test_only_the_walking_column_walks_and_the_decisions_say_so():
    encoder = SeriesEncoder()
    encoder.fit(frame(), 24)
    layout = encoder.meta["layout"]
    assert layout["walk"] == [0]
    line = [d for d in encoder.meta["decisions"] if d.startswith("per-step increments")]
    assert len(line) == 1 and "price" in line[0] and "volume" not in line[0]
    assert "smooth" not in line[0]


def test_generator_writes_a_walking_channel_as_a_first_value_plus_its_changes():
    encoder = SeriesEncoder()
    windows, _ = encoder.fit(frame(), 24)
    layout = encoder.meta["layout"]
    # the changes' unit: the std of the real changes in data space (1 for the other channels)
    unit = np.diff(windows[:, :, 0].astype(np.float64), axis=1).std()
    assert abs(layout["walk_scale"][0] - unit) < 1e-6 and 0 < unit < 0.1
    assert layout["walk_scale"][1:] == [1.0, 1.0]
    torch.manual_seed(0)
    G = SeriesGenerator(8, layout, 16, 2, 24, arch="mlp").eval()
    # per-step noise starts where the data's changes are white or mean-reverting, not smooth
    noise = G.noise_scale.detach()
    assert noise[0] == 0.5 and noise[2] > 0 and noise[1] == 0  # a walk's: half its unit
    z1 = torch.randn(5, 1, 8).expand(-1, 24, -1)
    a = G(z1, torch.Generator().manual_seed(1))
    assert torch.equal(a, G(z1, torch.Generator().manual_seed(1)))  # seeded: reproducible
    assert not torch.equal(a, G(z1, torch.Generator().manual_seed(2)))  # the noise is drawn
    with torch.no_grad():
        G.noise_scale.zero_()
    z = torch.randn(5, 1, 8).expand(-1, 24, -1)
    raw = G.net(z[:, 0]).reshape(5, 24, 3)
    path = torch.sigmoid(raw[:, 0, 0]).unsqueeze(1) + torch.cat(
        [torch.zeros(5, 1), (raw[:, 1:, 0] * unit).cumsum(1)], 1
    )
    torch.testing.assert_close(G(z)[..., 0], path.clamp(0, 1))  # samples stay in range
    torch.testing.assert_close(G.train()(z)[..., 0], path)  # training: no clamp, no dead zone
    torch.testing.assert_close(G(z)[..., 2], torch.sigmoid(raw[..., 2]))  # levels, not walked
    # the changes start at zero: at initialisation the walk begins at the marginal's value
    bias = G.net.net[-1].bias.reshape(24, 3)
    assert torch.all(bias[1:, 0] == 0) and bias[0, 0] != 0 and torch.all(bias[1:, 2] == bias[0, 2])


def test_layouts_before_walk_scale_walk_in_logit_space_as_they_did():
    encoder = SeriesEncoder()
    encoder.fit(frame(), 24)
    layout = {k: v for k, v in encoder.meta["layout"].items() if k != "walk_scale"}
    torch.manual_seed(0)
    G = SeriesGenerator(8, layout, 16, 2, 24, arch="mlp").eval()
    with torch.no_grad():
        G.noise_scale.zero_()
    z = torch.randn(5, 1, 8).expand(-1, 24, -1)
    raw = G.net(z[:, 0]).reshape(5, 24, 3)
    torch.testing.assert_close(G(z)[..., 0], torch.sigmoid(raw[..., 0].cumsum(1)))


def test_a_smooth_channel_gets_no_noise_even_when_its_scale_is_trained():
    encoder = SeriesEncoder()
    encoder.fit(frame(), 24)
    torch.manual_seed(0)
    G = SeriesGenerator(8, encoder.meta["layout"], 16, 2, 24, arch="mlp")
    opt = torch.optim.Adam([G.noise_scale], lr=0.1)
    z = torch.randn(64, 1, 8).expand(-1, 24, -1)
    for _ in range(5):  # any loss of the output: the smooth channel's scale gets no gradient
        opt.zero_grad()
        G(z)[..., :3].pow(2).sum().backward()
        opt.step()
    scale = G.noise_scale.detach()
    assert scale[1] == 0 and scale[0] != encoder.meta["layout"]["noise"][0]
    with torch.no_grad():
        G.noise_scale[1] = 5.0  # even set by hand, the mask keeps the smooth channel noise-free
    G.eval()
    a, b = (G(z[:4], torch.Generator().manual_seed(s))[..., 1] for s in (1, 2))
    torch.testing.assert_close(a, b)
