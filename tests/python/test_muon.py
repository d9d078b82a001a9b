"""polar_express.torch.Muon against the update rule written out here, grouped
batched calls, training on a synthetic task, and state_dict round trips."""

import io
import math

import pytest

from conftest import import_torch

torch = import_torch()

import polar_express as pe  # noqa: E402
import polar_express.torch as pet  # noqa: E402


def reference_polar(m, schedule, steps):
    """The schedule's iteration applied with torch matrix products in float64:
    X <- X / (f ||X||_F + eps), then per step X <- (c0 I + c1 A + c2 A^2 + ...) X
    with A = X X^T on the short side."""
    coefficients = schedule.coefficients
    x = m / (schedule.normalization_factor * torch.linalg.matrix_norm(m, keepdim=True) + schedule.eps)
    tall = x.shape[-2] > x.shape[-1]
    if tall:
        x = x.mT
    eye = torch.eye(x.shape[-2], dtype=x.dtype)
    for t in range(steps):
        c = coefficients[min(t, len(coefficients) - 1)]
        a = x @ x.mT
        h = c[-1] * eye
        for cj in reversed(c[:-1]):
            h = h @ a + cj * eye
        x = h @ x
    return x.mT if tall else x


def reference_muon(params, grads_per_step, *, lr, weight_decay, momentum, nesterov, schedule, steps, adjust_lr_fn,
                   scale=None):
    """torch.optim.Muon's rule, independently: B = mu B + (1 - mu) G; M = (1 - mu) G + mu B
    (Nesterov) or B; p = (1 - lr wd) p - lr' U with U the polar factor of M's matrices."""
    params = [p.detach().clone() for p in params]
    buffers = [torch.zeros_like(p) for p in params]
    for grads in grads_per_step:
        for p, g, b in zip(params, grads, buffers):
            b.copy_(momentum * b + (1 - momentum) * g)
            m = (1 - momentum) * g + momentum * b if nesterov else b.clone()
            matrices = m.reshape(-1, m.shape[-2], m.shape[-1]) if m.dim() == 3 else m.reshape(1, m.shape[0], -1)
            u = reference_polar(matrices, schedule, steps)
            if scale == "nuclear":
                u = u * (matrices * u).sum(dim=(-2, -1), keepdim=True)
            rows, cols = matrices.shape[-2:]
            if adjust_lr_fn in (None, "original"):
                ratio = math.sqrt(max(1.0, rows / cols))
            else:
                ratio = 0.2 * math.sqrt(max(rows, cols))
            p.mul_(1 - lr * weight_decay)
            p.sub_(lr * ratio * u.reshape(p.shape))
    return params


SHAPES = [(32, 48), (48, 32), (2, 16, 24), (8, 3, 3, 3)]


def _problem(seed, steps=4):
    gen = torch.Generator().manual_seed(seed)
    params = [torch.randn(*s, dtype=torch.float64, generator=gen) for s in SHAPES]
    grads = [[torch.randn(*s, dtype=torch.float64, generator=gen) for s in SHAPES] for _ in range(steps)]
    return params, grads


def _run_muon(params, grads_per_step, **options):
    params = [torch.nn.Parameter(p.clone()) for p in params]
    optimizer = pet.Muon(params, **options)
    for grads in grads_per_step:
        for p, g in zip(params, grads):
            p.grad = g.clone()
        optimizer.step()
    return [p.detach() for p in params]


@pytest.mark.parametrize("nesterov", [True, False])
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
@pytest.mark.parametrize("adjust_lr_fn", [None, "match_rms_adamw"])
@pytest.mark.parametrize("scale", [None, "nuclear"])
def test_muon_follows_the_update_rule(nesterov, weight_decay, adjust_lr_fn, scale):
    schedule = pe.Schedule.builtin("polar-express-paper-d5")
    params, grads = _problem(seed=3)
    lr = 0.02 if scale is None else 1e-4
    options = dict(lr=lr, weight_decay=weight_decay, momentum=0.9, nesterov=nesterov, adjust_lr_fn=adjust_lr_fn)
    got = _run_muon(params, grads, schedule=schedule, scale=scale, **options)
    want = reference_muon(params, grads, schedule=schedule, steps=schedule.steps, scale=scale, **options)
    for g, w in zip(got, want):
        assert (g - w).abs().max().item() <= 1e-10


def test_muon_steps_eps_and_torch_arguments():
    params, grads = _problem(seed=4, steps=3)
    nanochat = pe.Schedule.builtin("polar-express-nanochat-d5")
    options = dict(lr=0.01, weight_decay=0.05, momentum=0.95, nesterov=True, adjust_lr_fn=None)
    got = _run_muon(params, grads, steps=7, eps=1e-3, **options)
    want = reference_muon(params, grads, schedule=nanochat.with_eps(1e-3), steps=7, **options)
    assert max((g - w).abs().max().item() for g, w in zip(got, want)) <= 1e-10

    # torch.optim.Muon's own arguments: one (a, b, c) repeated ns_steps times.
    got = _run_muon(params, grads, ns_coefficients=(3.4445, -4.775, 2.0315), ns_steps=4, **options)
    ns = pe.Schedule([[3.4445, -4.775, 2.0315]], normalization_factor=1.0, eps=1e-7)
    want = reference_muon(params, grads, schedule=ns, steps=4, **options)
    assert max((g - w).abs().max().item() for g, w in zip(got, want)) <= 1e-10


def test_grouped_batched_calls_equal_per_parameter_calls_bit_for_bit():
    gen = torch.Generator().manual_seed(5)
    shapes = [(16, 24), (16, 24), (3, 16, 24), (16, 24), (24, 16)]
    params = [torch.randn(*s, generator=gen) for s in shapes]
    grads = [[torch.randn(*s, generator=gen) for s in shapes] for _ in range(3)]

    def run(grouping):
        ps = [torch.nn.Parameter(p.clone()) for p in params]
        groups = [{"params": ps}] if grouping else [{"params": [p]} for p in ps]
        optimizer = pet.Muon(groups, lr=0.02)
        for step_grads in grads:
            for p, g in zip(ps, step_grads):
                p.grad = g.clone()
            optimizer.step()
        return ps

    for grouped, alone in zip(run(True), run(False)):
        assert torch.equal(grouped, alone)

    # and at the operator: one batched call, matrix by matrix
    batch = torch.randn(5, 16, 24, generator=gen)
    together = pet.orthogonalize(batch)
    for b in range(5):
        assert torch.equal(together[b], pet.orthogonalize(batch[b]))


class OddShapes(torch.nn.Module):
    """Conv kernel (4-D), a stack of per-head matrices (3-D), tall and wide 2-D."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.heads = torch.nn.Parameter(torch.randn(2, 8, 8) / 8**0.5)
        self.up = torch.nn.Linear(16, 40)
        self.down = torch.nn.Linear(40, 3)

    def forward(self, x):  # x: (N, 1, 2, 2)
        h = torch.tanh(self.conv(x)).flatten(1)  # (N, 16)
        h = torch.einsum("nhi,hij->nhj", h.reshape(-1, 2, 8), self.heads).reshape(-1, 16)
        return self.down(torch.tanh(self.up(h)))


def _train(scale, lr, steps=300, seed=0):
    torch.manual_seed(seed)
    teacher, student = OddShapes(), OddShapes()
    x = torch.randn(256, 1, 2, 2)
    with torch.no_grad():
        y = teacher(x)
    matrices = [p for p in student.parameters() if p.dim() >= 2]
    others = [p for p in student.parameters() if p.dim() < 2]
    muon = pet.Muon(matrices, lr=lr, weight_decay=0.0, scale=scale)
    adam = torch.optim.AdamW(others, lr=3e-3, weight_decay=0.0)
    losses = []
    for _ in range(steps):
        loss = torch.nn.functional.mse_loss(student(x), y)
        losses.append(loss.item())
        muon.zero_grad()
        adam.zero_grad()
        loss.backward()
        muon.step()
        adam.step()
    return losses


@pytest.mark.parametrize("scale, lr", [(None, 0.02), ("nuclear", 2e-3)])
def test_training_lowers_the_loss(scale, lr):
    losses = _train(scale, lr)
    assert all(math.isfinite(v) for v in losses)
    assert min(losses[-20:]) < 0.2 * losses[0]


def test_state_dict_round_trip_resumes_bit_for_bit():
    torch.manual_seed(1)
    model = OddShapes()
    x, y = torch.randn(64, 1, 2, 2), torch.randn(64, 3)
    matrices = lambda m: [p for p in m.parameters() if p.dim() >= 2]  # noqa: E731

    def train(m, optimizer, steps):
        for _ in range(steps):
            optimizer.zero_grad()
            torch.nn.functional.mse_loss(m(x), y).backward()
            optimizer.step()

    optimizer = pet.Muon(matrices(model), lr=0.02, scale=None, schedule=pe.Schedule([[1.5, -0.5]], eps=1e-7))
    train(model, optimizer, 5)
    saved = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, saved)
    train(model, optimizer, 5)

    saved.seek(0)
    state = torch.load(saved, weights_only=True)
    resumed = OddShapes()
    resumed.load_state_dict(state["model"])
    resumed_optimizer = pet.Muon(matrices(resumed), lr=0.5)  # hyperparameters come from the state
    resumed_optimizer.load_state_dict(state["optimizer"])
    assert resumed_optimizer.param_groups[0]["lr"] == 0.02
    train(resumed, resumed_optimizer, 5)
    for a, b in zip(model.parameters(), resumed.parameters()):
        assert torch.equal(a, b)


def test_bad_parameters_and_options():
    with pytest.raises(ValueError, match="two or more dimensions"):
        pet.Muon([torch.nn.Parameter(torch.ones(4))])
    with pytest.raises(ValueError, match="empty"):
        pet.Muon([torch.nn.Parameter(torch.ones(0, 4))])
    with pytest.raises(ValueError, match="complex"):
        pet.Muon([torch.nn.Parameter(torch.ones(2, 2, dtype=torch.complex64))])
    weight = [torch.nn.Parameter(torch.ones(2, 2))]
    with pytest.raises(ValueError, match="not supported"):
        pet.Muon(weight, adjust_lr_fn="bogus")
    with pytest.raises(ValueError, match="PolarGrad"):
        pet.Muon(weight, scale="spectral")
    with pytest.raises(ValueError, match="unknown schedule"):
        pet.Muon(weight, schedule="nope")
    with pytest.raises(ValueError, match="Learning rate"):
        pet.Muon(weight, lr=-1.0)


# ------------------------------------------------------------------ non-finite gradients (issue 26, item 4)


def _named_model(seed):
    gen = torch.Generator().manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(24, 16, bias=False), torch.nn.Linear(16, 8, bias=False))
    for p in model.parameters():
        p.data = torch.randn(p.shape, dtype=torch.float64, generator=gen)
    grads = [[torch.randn(p.shape, dtype=torch.float64, generator=gen) for p in model.parameters()] for _ in range(3)]
    return model, grads


def _set_grads(model, grads):
    for p, g in zip(model.parameters(), grads):
        p.grad = g.clone()


def test_a_nonfinite_gradient_skips_its_parameter_only_and_names_it():
    model, grads = _named_model(5)
    clean = [p.detach().clone() for p in model.parameters()]
    optimizer = pet.Muon(model.named_parameters(), lr=0.02)
    poisoned = [grads[0][0].clone(), grads[0][1]]
    poisoned[0][3, 4] = float("nan")
    _set_grads(model, poisoned)
    with pytest.warns(pe.OrthogonalizeWarning, match=r"'0\.weight'") as caught:
        optimizer.step()
    assert len(caught) == 1
    assert caught[0].filename == __file__  # points at the caller's step(), not at a library file
    first, second = list(model.parameters())
    # The poisoned parameter: weights and momentum untouched; the other stepped as if alone.
    assert torch.equal(first.detach(), clean[0])
    assert "momentum_buffer" not in optimizer.state[first]
    alone = torch.nn.Parameter(clean[1].clone())
    alone.grad = grads[0][1].clone()
    pet.Muon([alone], lr=0.02).step()
    assert torch.equal(second.detach(), alone.detach())
    # Later clean steps run normally: both parameters finite and moving.
    _set_grads(model, grads[1])
    optimizer.step()
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert not torch.equal(first.detach(), clean[0])


def test_with_the_warning_an_error_the_step_raises_before_any_change():
    import warnings

    model, grads = _named_model(6)
    optimizer = pet.Muon(model.parameters(), lr=0.02)
    _set_grads(model, grads[0])
    optimizer.step()  # momentum exists for both
    before = [p.detach().clone() for p in model.parameters()]
    momenta = [optimizer.state[p]["momentum_buffer"].clone() for p in model.parameters()]
    poisoned = [grads[1][0], grads[1][1].clone()]
    poisoned[1][0, 0] = float("inf")  # the last parameter: every earlier one would have stepped
    _set_grads(model, poisoned)
    with warnings.catch_warnings():
        warnings.simplefilter("error", pe.OrthogonalizeWarning)
        with pytest.raises(pe.OrthogonalizeWarning, match=r"param_groups\[0\]\['params'\]\[1\] of shape \(8, 16\)"):
            optimizer.step()
    for p, b, m in zip(model.parameters(), before, momenta):
        assert torch.equal(p.detach(), b)
        assert torch.equal(optimizer.state[p]["momentum_buffer"], m)
    # The next clean step is not poisoned.
    _set_grads(model, grads[2])
    with warnings.catch_warnings():
        warnings.simplefilter("error", pe.OrthogonalizeWarning)
        optimizer.step()
    assert all(torch.isfinite(p).all() for p in model.parameters())
