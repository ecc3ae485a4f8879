"""The trainer's optimizer step against closed-form gradients, on a linear regression task.

The task is least squares: loss = mean((x @ w - y)^2) over a micro-batch, so the gradient is
2 x^T (x w - y) / n, computed here by hand. Wrapping the optimizer's ``step`` records what the
trainer hands AdamW: the accumulated (and clipped) gradient and the learning rate of each step.
AdamW's update barely depends on the gradient's scale, so checking the weights after a step
would not see a wrong accumulation factor; checking the gradient does. Written for the mutants
that survived `make mutate MODULE=attnkit/training/trainer.py` (docs/testing.md).
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from attnkit.config import RunConfig, TrainConfig
from attnkit.text import CharTokenizer
from attnkit.training.optim import build_optimizer, lr_at, param_groups
from attnkit.training.trainer import Trainer

W_TRUE = torch.tensor([1.0, -2.0, 0.5])


class LeastSquares:
    family = "decoder"

    def __init__(self) -> None:
        self.tokenizer = CharTokenizer.train("ab")
        self.drawn: list[dict[str, torch.Tensor]] = []

    def train_batch(self, gen: torch.Generator, batch_size: int) -> dict[str, torch.Tensor]:
        x = torch.randn(batch_size, 3, generator=gen)
        batch = {"x": x, "y": x @ W_TRUE + 0.1 * torch.randn(batch_size, generator=gen)}
        self.drawn.append(batch)
        return batch

    def loss(self, model, batch, label_smoothing=0.0):
        return ((model(batch["x"]).squeeze(-1) - batch["y"]) ** 2).mean(), batch["x"].shape[0]

    def evaluate(self, model, split, batch_size, max_batches):
        with torch.no_grad():
            x = torch.eye(3)
            loss = float(((model(x).squeeze(-1) - W_TRUE) ** 2).mean())
        return {"loss": loss, "ppl": math.exp(loss)}


def _trainer(tmp_path, **train) -> tuple[Trainer, LeastSquares, list[dict]]:
    defaults = dict(batch_size=4, max_steps=3, warmup_steps=0, eval_every=1000, progress=False, device="cpu")
    cfg = RunConfig(out_dir=str(tmp_path / "run"), train=TrainConfig(**{**defaults, **train}))
    task = LeastSquares()
    torch.manual_seed(0)
    model = nn.Linear(3, 1, bias=False)
    trainer = Trainer(cfg, task, model)
    seen: list[dict] = []
    real_step = trainer.optimizer.step

    def recording_step(*a, **k):
        seen.append(
            {
                "grad": model.weight.grad.detach().clone().view(-1),
                "w": model.weight.detach().clone().view(-1),
                "lr": [g["lr"] for g in trainer.optimizer.param_groups],
            }
        )
        return real_step(*a, **k)

    trainer.optimizer.step = recording_step
    return trainer, task, seen


def _grad(w: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    x, y = batch["x"], batch["y"]
    return 2 * x.T @ (x @ w - y) / x.shape[0]


def test_accumulated_gradient_is_the_mean_over_micro_batches(tmp_path):
    trainer, task, seen = _trainer(tmp_path, grad_accum=3, grad_clip=None)
    w0 = trainer.model.weight.detach().clone().view(-1)
    loss, tokens = trainer.train_step(trainer.model)
    assert len(task.drawn) == 3 and tokens == 12
    expect = sum(_grad(w0, b) for b in task.drawn) / 3
    torch.testing.assert_close(seen[0]["grad"], expect, rtol=1e-5, atol=1e-6)
    want_loss = sum(float(((b["x"] @ w0 - b["y"]) ** 2).mean()) for b in task.drawn) / 3
    assert float(loss) == pytest.approx(want_loss, rel=1e-6)
    assert trainer.model.weight.grad is None  # cleared for the next step


def test_each_step_sees_only_its_own_gradient(tmp_path):
    trainer, task, seen = _trainer(tmp_path, grad_clip=None)
    trainer.train_step(trainer.model)
    trainer.train_step(trainer.model)
    torch.testing.assert_close(seen[1]["grad"], _grad(seen[1]["w"], task.drawn[1]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("clip", [0.05, 1e6])
def test_gradient_norm_is_clipped_to_grad_clip(tmp_path, clip):
    trainer, task, seen = _trainer(tmp_path, grad_clip=clip)
    w0 = trainer.model.weight.detach().clone().view(-1)
    trainer.train_step(trainer.model)
    full = _grad(w0, task.drawn[0])
    assert float(full.norm()) > 0.05  # so the small clip really clips
    expect = full * min(1.0, clip / float(full.norm()))
    torch.testing.assert_close(seen[0]["grad"], expect, rtol=1e-4, atol=1e-6)


def test_fit_sets_the_scheduled_rate_before_every_step(tmp_path):
    trainer, _, seen = _trainer(
        tmp_path, max_steps=6, warmup_steps=2, lr=0.1, min_lr=0.01, schedule="cosine", log_every=1
    )
    trainer.fit()
    tc = trainer.tc
    assert [s["lr"] for s in seen] == [[lr_at(i, tc)] * 2 for i in range(6)]
    # Hand values: warmup 0.05, 0.1; then cosine over 4 steps from 0.1 to 0.01.
    expect = [0.05, 0.1] + [0.01 + 0.045 * (1 + math.cos(math.pi * i / 4)) for i in range(4)]
    assert [s["lr"][0] for s in seen] == pytest.approx(expect)


def test_adamw_gets_the_configured_hyper_parameters(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))
    model[1].weight.requires_grad_(False)  # frozen: in neither group
    tc = TrainConfig(lr=3e-4, beta1=0.8, beta2=0.95, weight_decay=0.2)
    opt = build_optimizer(model, tc, torch.device("cpu"))
    assert [(g["lr"], g["betas"], g["weight_decay"]) for g in opt.param_groups] == [
        (3e-4, (0.8, 0.95), 0.2),
        (3e-4, (0.8, 0.95), 0.0),
    ]
    assert opt.param_groups[0]["fused"] is False  # the fused kernel is for CUDA
    decay, no_decay = param_groups(model, 0.2)
    assert [tuple(p.shape) for p in decay["params"]] == [(4, 3)]
    assert [tuple(p.shape) for p in no_decay["params"]] == [(4,), (4,)]  # linear bias, norm bias


def test_schedule_hand_values():
    cos = TrainConfig(lr=1.0, min_lr=0.0, warmup_steps=0, max_steps=8, schedule="cosine")
    assert [lr_at(s, cos) for s in (0, 2, 4, 6, 8)] == pytest.approx([1.0, 0.8535534, 0.5, 0.1464466, 0.0])
    # A fitted length ends the cosine early: 4 steps instead of 8.
    assert [lr_at(s, cos, total=4) for s in (0, 2, 4)] == pytest.approx([1.0, 0.5, 0.0])
    warm = TrainConfig(lr=1.0, min_lr=0.0, warmup_steps=4, max_steps=8, schedule="cosine")
    assert [lr_at(s, warm) for s in range(5)] == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0])
    # One step after warmup: the cosine spans that single step and ends at min_lr after it.
    short = TrainConfig(lr=1.0, min_lr=0.1, warmup_steps=2, max_steps=3, schedule="cosine")
    assert [lr_at(s, short) for s in (2, 3)] == pytest.approx([1.0, 0.1])
    noam = TrainConfig(lr=1.0, warmup_steps=0, schedule="inverse_sqrt")
    assert [lr_at(s, noam) for s in (0, 3, 15)] == pytest.approx([1.0, 0.5, 0.25])


def test_resume_restores_step_weights_optimizer_and_the_best_score(tmp_path):
    trainer, _, _ = _trainer(tmp_path, max_steps=4, eval_every=1, log_every=1, grad_clip=None)
    trainer.fit(until_step=3)
    evals = [r["loss"] for r in trainer.history if r["kind"] == "eval"]
    again, _, _ = _trainer(tmp_path, max_steps=4, eval_every=1, log_every=1, grad_clip=None)
    again.resume()
    assert again.step == 3 and again.best == min(evals)
    assert torch.equal(again.model.weight, trainer.model.weight)
    exp_avg = lambda t: t.optimizer.state[t.model.weight]["exp_avg"]  # noqa: E731
    assert torch.equal(exp_avg(again), exp_avg(trainer))
    # Without a best/ checkpoint any first evaluation is the best so far.
    import shutil

    shutil.rmtree(tmp_path / "run" / "best")
    fresh, _, _ = _trainer(tmp_path, max_steps=4, eval_every=1)
    fresh.resume()
    assert fresh.best == math.inf and fresh.step == 3
