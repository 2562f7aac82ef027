"""Adversarial losses and regularisers: the one home of GAN loss math, as small pure functions.

Every loss takes discriminator logits (raw scores, before any sigmoid) and returns a scalar. The
mean runs over every element, so per-sample logits of shape (N,) and per-patch logits of shape
(N, 1, H, W) (PatchGAN) both work. Losses are evaluated in at least float32 so that logits coming
out of an autocast region in float16/bfloat16 do not lose the small terms of the loss.

Sign convention: every function returns a quantity to *minimise*.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from ganforge.errors import GanforgeError

LOSSES: tuple[str, ...] = (
    "minimax",
    "nonsaturating",
    "wasserstein",
    "hinge",
    "lsgan",
    "relativistic-pair",
)
# Losses whose generator term reads D's logits on real data too (g_loss needs real_logits).
PAIRED_LOSSES: tuple[str, ...] = ("relativistic-pair",)

Discriminator = Callable[..., Tensor]


def check_loss_name(name: object, where: str | None = None) -> str:
    """Return `name` if it is in LOSSES, else raise a GanforgeError that lists the valid names."""
    if isinstance(name, str) and name in LOSSES:
        return name
    fix = "use one of: " + ", ".join(LOSSES)
    close = difflib.get_close_matches(str(name), LOSSES, n=1) if isinstance(name, str) else []
    if close:
        fix += f" (did you mean {close[0]!r}?)"
    raise GanforgeError(f"unknown adversarial loss {name!r}", where, fix)


def _at_least_float32(logits: Tensor) -> Tensor:
    # Under autocast the logits may be float16/bfloat16; float64 is kept as it is (tests, analysis).
    return logits if logits.dtype in (torch.float32, torch.float64) else logits.float()


# Numerical stability: with s = sigmoid, log s(x) = -softplus(-x) and log(1 - s(x)) = -softplus(x).
# In float32 the naive forms round 1 - s(x) to 0 once x > ~17 and s(x) to 0 once x < ~-88, so the
# log becomes -inf and its gradient nan. softplus stays finite and accurate (softplus(x) -> x for
# large x, -> exp(x) for very negative x); it is what BCE-with-logits does internally.


def _minimax_d(real: Tensor, fake: Tensor) -> Tensor:
    # D maximises E[log D(x)] + E[log(1 - D(G(z)))]; minimise the negation.
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def _minimax_g(fake: Tensor) -> Tensor:
    # G minimises E[log(1 - D(G(z)))] (saturates: tiny gradient when D rejects fakes confidently).
    return -F.softplus(fake).mean()


def _nonsaturating_g(fake: Tensor) -> Tensor:
    # G maximises E[log D(G(z))]; minimise the negation.
    return F.softplus(-fake).mean()


def _wasserstein_d(real: Tensor, fake: Tensor) -> Tensor:
    return fake.mean() - real.mean()


def _hinge_d(real: Tensor, fake: Tensor) -> Tensor:
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def _critic_g(fake: Tensor) -> Tensor:
    # Generator loss shared by the Wasserstein and hinge objectives.
    return -fake.mean()


def _lsgan_d(real: Tensor, fake: Tensor) -> Tensor:
    return 0.5 * (real - 1.0).pow(2).mean() + 0.5 * fake.pow(2).mean()


def _lsgan_g(fake: Tensor) -> Tensor:
    return 0.5 * (fake - 1.0).pow(2).mean()


def _relativistic_pair_d(real: Tensor, fake: Tensor) -> Tensor:
    # RpGAN (Jolicoeur-Martineau 2018; Huang et al. 2024, eq. 2): real i is paired with fake i.
    return F.softplus(-(real - fake)).mean()


_D_LOSSES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "minimax": _minimax_d,
    "nonsaturating": _minimax_d,  # the non-saturating variant changes only the generator's loss
    "wasserstein": _wasserstein_d,
    "hinge": _hinge_d,
    "lsgan": _lsgan_d,
    "relativistic-pair": _relativistic_pair_d,
}
_G_LOSSES: dict[str, Callable[[Tensor], Tensor]] = {
    "minimax": _minimax_g,
    "nonsaturating": _nonsaturating_g,
    "wasserstein": _critic_g,
    "hinge": _critic_g,
    "lsgan": _lsgan_g,
}


def d_loss(name: str, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Discriminator loss (to minimise) for the named objective; a scalar mean over the batch.

    - minimax / nonsaturating (Goodfellow et al. 2014, "Generative Adversarial Nets"):
      -E[log D(x)] - E[log(1 - D(G(z)))], with D = sigmoid(logits), written with softplus.
    - wasserstein (Arjovsky et al. 2017, "Wasserstein GAN"): E[f] - E[r]; needs a Lipschitz
      constraint from the caller (gradient_penalty, weight clipping or spectral norm).
    - hinge (Lim & Ye 2017, "Geometric GAN"; Miyato et al. 2018): E[relu(1 - r)] + E[relu(1 + f)].
    - lsgan (Mao et al. 2017, "Least Squares GAN", a=0, b=1, c=1): 0.5 E[(r-1)^2] + 0.5 E[f^2].
    - relativistic-pair (RpGAN, Jolicoeur-Martineau 2018; R3GAN, Huang et al. 2024, eq. 2):
      E[softplus(-(r_i - f_i))], real i paired with fake i (logits of the same shape). Meant
      with both zero-centred penalties, R1 on real and R2 on fake (r1_penalty, r2_penalty).
    """
    loss = _D_LOSSES[check_loss_name(name)]
    return loss(_at_least_float32(real_logits), _at_least_float32(fake_logits))


def g_loss(name: str, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
    """Generator loss (to minimise) for the named objective; a scalar mean over the batch.

    - minimax (Goodfellow et al. 2014): E[log(1 - D(G(z)))], the original saturating formula.
    - nonsaturating (Goodfellow et al. 2014, section 3): -E[log D(G(z))].
    - wasserstein (Arjovsky et al. 2017) and hinge (Lim & Ye 2017): -E[f].
    - lsgan (Mao et al. 2017, c=1): 0.5 E[(f-1)^2].
    - relativistic-pair (Huang et al. 2024, eq. 2 with the roles swapped):
      E[softplus(-(f_i - r_i))]; needs `real_logits` (PAIRED_LOSSES). Real logits carry no
      gradient to G: compute them under torch.no_grad().

    Only PAIRED_LOSSES read `real_logits`; the relativistic *average* objective of ESRGAN has
    its own relativistic_g_loss.
    """
    name = check_loss_name(name)
    fake = _at_least_float32(fake_logits)
    if name in PAIRED_LOSSES:
        if real_logits is None:
            raise ValueError(f"the {name} generator loss needs the real logits")
        return F.softplus(-(fake - _at_least_float32(real_logits))).mean()
    return _G_LOSSES[name](fake)


def relativistic_d_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Relativistic average discriminator loss (RaGAN, Jolicoeur-Martineau 2018), as in ESRGAN.

    With D_Ra(a, b) = sigmoid(C(a) - E[C(b)]):
    0.5 * (-E_r[log D_Ra(x_r, x_f)] - E_f[log(1 - D_Ra(x_f, x_r))]).
    The papers write the plain sum of the two terms; ESRGAN's released code (Wang et al. 2018, and
    BasicSR after it) averages them, so its adversarial weight (5e-3) applies to this value.
    """
    real = _at_least_float32(real_logits)
    fake = _at_least_float32(fake_logits)
    return 0.5 * (F.softplus(-(real - fake.mean())).mean() + F.softplus(fake - real.mean()).mean())


def relativistic_g_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Relativistic average generator loss (RaGAN, Jolicoeur-Martineau 2018), as in ESRGAN.

    0.5 * (-E_r[log(1 - D_Ra(x_r, x_f))] - E_f[log D_Ra(x_f, x_r)]): the discriminator loss with
    the roles of real and fake swapped. Real logits carry no gradient to G, so compute them under
    torch.no_grad() or pass real_logits.detach() to avoid accumulating gradients in D.
    """
    real = _at_least_float32(real_logits)
    fake = _at_least_float32(fake_logits)
    return 0.5 * (F.softplus(real - fake.mean()).mean() + F.softplus(-(fake - real.mean())).mean())


def _call(discriminator: Discriminator, x: Tensor, y: Tensor | None) -> Tensor:
    return discriminator(x) if y is None else discriminator(x, y)


def _input_gradient(discriminator: Discriminator, x: Tensor, y: Tensor | None) -> Tensor:
    """Gradient of sum(D(x, y)) with respect to x, flattened per sample, in at least float32."""
    logits = _call(discriminator, x, y)
    # Only the inputs: parameter gradients are left to the caller's final backward, which is what
    # keeps DistributedDataParallel's gradient-sync hooks out of this inner pass. create_graph so
    # the penalty itself can be differentiated with respect to D's parameters.
    (grad,) = torch.autograd.grad(
        outputs=logits.sum(), inputs=x, create_graph=True, only_inputs=True
    )
    # The norm of a float16 gradient overflows/underflows easily; take it in float32 at least.
    return _at_least_float32(grad).flatten(start_dim=1)


def gradient_penalty(
    discriminator: Discriminator, real: Tensor, fake: Tensor, y: Tensor | None = None
) -> Tensor:
    """WGAN-GP penalty (Gulrajani et al. 2017): E[(||grad_x D(x_hat)||_2 - 1)^2], unweighted.

    x_hat = a * real + (1 - a) * fake with a ~ U[0, 1) drawn per sample (torch's global RNG) and
    broadcast over the other dimensions, so inputs may be vectors (N, D) or images (N, C, H, W).
    `y` (labels, a conditioning image) is passed to D unchanged and is not interpolated. The
    result is differentiable with respect to D's parameters; multiply it by lambda (10 in the
    paper) and add it to the discriminator loss.
    """
    if real.shape != fake.shape:
        raise ValueError(f"real {tuple(real.shape)} and fake {tuple(fake.shape)} differ in shape")
    weight_shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    alpha = torch.rand(weight_shape, device=real.device, dtype=real.dtype)
    # Detach: the penalty regularises D only and must not reach the generator through `fake`.
    x_hat = (alpha * real.detach() + (1.0 - alpha) * fake.detach()).requires_grad_(True)
    grad = _input_gradient(discriminator, x_hat, y)
    return (torch.linalg.vector_norm(grad, dim=1) - 1.0).pow(2).mean()


def r1_penalty(discriminator: Discriminator, real: Tensor, y: Tensor | None = None) -> Tensor:
    """R1 penalty (Mescheder et al. 2018): E[||grad_x D(x)||_2^2] on real data, without gamma/2.

    The paper's regulariser is (gamma / 2) * this value; the caller multiplies. Lazy
    regularisation (Karras et al. 2020, StyleGAN2): evaluate it only every k-th discriminator step
    and scale it by k to keep its average strength, i.e. on steps where step % k == 0 add
    (gamma / 2) * k * r1_penalty(D, real, y) to the discriminator loss (StyleGAN2 uses k = 16).
    The result is differentiable with respect to D's parameters.
    """
    x = real.detach().requires_grad_(True)
    grad = _input_gradient(discriminator, x, y)
    return grad.pow(2).sum(dim=1).mean()


def r2_penalty(discriminator: Discriminator, fake: Tensor, y: Tensor | None = None) -> Tensor:
    """R2 penalty (Mescheder et al. 2018; Huang et al. 2024): R1's formula on fake data.

    E[||grad_x D(x)||_2^2] at the (detached) fakes, without gamma/2; with R1 it makes the
    relativistic pairing loss locally convergent (Huang et al. 2024, section 2.3).
    """
    return r1_penalty(discriminator, fake, y)


def zero_centred_penalty(logits: Tensor, inputs: Tensor) -> Tensor:
    """E[||grad_x D(x)||_2^2] from logits already computed on `inputs` (which require grad).

    The same value as r1_penalty / r2_penalty without a second forward pass: the adversarial
    loss and the penalty share one pass of D, as R3GAN's trainer does.
    """
    (grad,) = torch.autograd.grad(
        outputs=logits.sum(), inputs=inputs, create_graph=True, only_inputs=True
    )
    return _at_least_float32(grad).flatten(start_dim=1).pow(2).sum(dim=1).mean()
