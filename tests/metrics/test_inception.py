"""FID InceptionV3: pytorch-fid's layout and key names, loading, and the missing-weights error."""

import numpy as np
import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.metrics.features import get_extractor
from ganforge.metrics.features.inception import (
    WEIGHTS_ENV,
    WEIGHTS_FILE,
    FIDInceptionV3,
    InceptionExtractor,
    find_inception_weights,
)


@pytest.fixture
def no_weights(tmp_path, monkeypatch):
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    return tmp_path


@pytest.fixture(scope="module")
def random_state(tmp_path_factory):
    """A generated state dict shaped like pt_inception (BN stats randomised, no counters)."""
    torch.manual_seed(0)
    net = FIDInceptionV3()
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.normal_(0, 0.1)
            module.running_var.uniform_(0.5, 2.0)
    state = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    path = tmp_path_factory.mktemp("inception") / "pt_inception.pth"
    torch.save(state, path)
    return state, path


def test_key_names_and_shapes_follow_pytorch_fid():
    state = FIDInceptionV3().state_dict()
    expected = {
        "Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3),
        "Conv2d_4a_3x3.bn.running_var": (192,),
        "Mixed_5b.branch_pool.conv.weight": (32, 192, 1, 1),
        "Mixed_6a.branch3x3.conv.weight": (384, 288, 3, 3),
        "Mixed_6e.branch7x7dbl_5.conv.weight": (192, 192, 1, 7),
        "Mixed_7a.branch7x7x3_4.conv.weight": (192, 192, 3, 3),
        "Mixed_7c.branch3x3dbl_3b.conv.weight": (384, 384, 3, 1),
        "fc.weight": (1008, 2048),
        "fc.bias": (1008,),
    }
    for key, shape in expected.items():
        assert tuple(state[key].shape) == shape, key
    assert not any("AuxLogits" in k for k in state)  # pytorch-fid builds it with aux_logits=False
    # 94 conv+BN units (5 stem, 3x7 A, 4 B, 4x10 C, 6 D, 2x9 E) and the fc layer.
    assert sum(k.endswith("conv.weight") for k in state) == 94


def test_load_round_trip_and_shapes(random_state):
    state, path = random_state
    extractor = InceptionExtractor(path)
    loaded = extractor.net.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in state.items())
    features, logits = extractor(torch.rand(1, 1, 32, 32) * 2 - 1)  # grey 32px -> RGB 299px
    assert features.shape == (1, 2048) and logits.shape == (1, 1008)
    assert torch.isfinite(features).all() and (features >= 0).all()  # average of ReLUs
    protocol = extractor.protocol()
    assert protocol["extractor"] == "inception" and "299x299" in protocol["resize"]


def test_weights_found_through_env_and_cache(random_state, no_weights, monkeypatch):
    _, path = random_state
    monkeypatch.setenv(WEIGHTS_ENV, str(path))
    assert find_inception_weights() == path
    monkeypatch.delenv(WEIGHTS_ENV)
    cache = no_weights / "cache"
    cache.mkdir()
    (cache / WEIGHTS_FILE).write_bytes(path.read_bytes())
    assert find_inception_weights() == cache / WEIGHTS_FILE


def test_missing_weights_is_one_clear_line(no_weights):
    with pytest.raises(GanforgeError) as info:
        get_extractor("inception")
    message = str(info.value)
    assert "\n" not in message
    assert "pt_inception-2015-12-05" in message and WEIGHTS_ENV in message
    assert "--inception-weights" in message and str(no_weights / "cache") in message


def test_missing_explicit_path(no_weights):
    with pytest.raises(GanforgeError, match="not found at .*nowhere.pth"):
        InceptionExtractor(no_weights / "nowhere.pth")


def test_wrong_file(no_weights):
    bad = no_weights / "bad.pth"
    torch.save({"conv.weight": torch.zeros(1)}, bad)
    with pytest.raises(GanforgeError, match="not the FID Inception weights"):
        InceptionExtractor(bad)
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(GanforgeError, match="not the FID Inception weights: a text file"):
        InceptionExtractor(bad)


def test_inception_score_uses_unbiased_logits_as_the_original(random_state):
    """IS logits are pool3 @ fc.weight.T without the bias (openai/improved-gan, torch-fidelity's
    logits_unbiased): recomputed by hand from varied pool3 features and the fc weights."""
    from scipy.special import softmax
    from scipy.stats import entropy

    from ganforge.metrics.inception_score import inception_score

    net = FIDInceptionV3()
    net.load_state_dict(random_state[0], strict=False)
    with torch.no_grad():
        net.fc.weight.normal_(0, 0.5)  # varied logits
        net.fc.bias.copy_(torch.linspace(-6.0, 6.0, 1008))  # a bias that would matter
        # The network's own forward returns the same unbiased logits as its head (one small image).
        pool, logits = net.eval()(torch.rand(1, 3, 75, 75) * 2 - 1)
        torch.testing.assert_close(logits, net.logits(pool))
        pool = torch.rand(40, 2048, generator=torch.Generator().manual_seed(0)).double()
        net.fc.double()  # a float64 head: an exact comparison
        logits = net.logits(pool)
    weight, bias = net.fc.weight.detach().numpy(), net.fc.bias.detach().numpy()
    unbiased = pool.numpy() @ weight.T  # by hand: no bias

    def by_hand(scores, splits=10):  # Salimans 2016 with scipy's KL, 4 rows per split
        p = softmax(scores, axis=1)
        parts = np.split(p, splits)
        return np.mean([np.exp(np.mean([entropy(r, q.mean(0)) for r in q])) for q in parts])

    np.testing.assert_allclose(logits.numpy(), unbiased, rtol=1e-12, atol=1e-12)
    assert inception_score(logits)[0] == pytest.approx(by_hand(unbiased), rel=1e-9)
    assert by_hand(unbiased) != pytest.approx(by_hand(unbiased + bias), rel=1e-2)
    assert "logits_unbiased" in InceptionExtractor.logits_note
