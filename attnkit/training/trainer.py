"""The task-agnostic training loop.

One ``Trainer`` trains every attnkit task: it asks the task for batches, losses and metrics and
does the rest: AdamW with decay groups, warmup + cosine/inverse-sqrt schedule, gradient
accumulation and clipping, bf16 autocast, optional ``torch.compile``, DDP under torchrun,
evaluation every N steps with best-checkpoint keeping and early stopping, a progress bar
(loss, tokens/s, ETA), ``metrics.jsonl``, ``loss.png``, and checkpoints that resume exactly.

Run directory layout::

    <out_dir>/config.yaml     resolved config of the run
    <out_dir>/metrics.jsonl   one JSON object per log/eval event
    <out_dir>/loss.png        train/valid loss curves
    <out_dir>/last/           latest checkpoint (see attnkit.training.checkpoint)
    <out_dir>/best/           checkpoint with the lowest validation loss (or train.select_by)
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import math
import time
from pathlib import Path

import torch
from torch import Tensor, nn
from tqdm import tqdm

from attnkit.config.base import save_yaml
from attnkit.config.run import RunConfig, TrainConfig
from attnkit.tasks.base import Task
from attnkit.training import checkpoint as ckpt
from attnkit.training.device import select_device
from attnkit.training.distributed import DistInfo, agree_min, cleanup, init_distributed, mean_across, shard
from attnkit.training.optim import build_optimizer, lr_at, set_lr
from attnkit.training.plots import plot_losses
from attnkit.training.precision import autocast, resolve_precision

log = logging.getLogger(__name__)

class TrainingError(RuntimeError):
    """The run cannot continue (a non-finite loss); the message says what to change."""


def autocast_for(cfg: TrainConfig, device: torch.device):
    """bf16 autocast where ``train.precision`` resolves to bf16 on ``device`` (see precision.py)."""
    return autocast(cfg.precision, device)


class Trainer:
    """Fit ``model`` on ``task`` as ``cfg.train`` says, writing into ``cfg.out_dir``."""

    def __init__(self, cfg: RunConfig, task: Task, model: nn.Module) -> None:
        self.cfg, self.task, self.model = cfg, task, model
        self.tc = cfg.train
        self.out = Path(cfg.out_dir)
        if self.tc.threads:
            torch.set_num_threads(self.tc.threads)
        self.device = select_device(self.tc.device)
        self.dist: DistInfo = init_distributed(self.device)
        if self.tc.warmup_steps > self.tc.max_steps and self.dist.is_main:
            log.warning("train.warmup_steps=%d is more than train.max_steps=%d: the learning rate never "
                        "reaches train.lr", self.tc.warmup_steps, self.tc.max_steps)  # fmt: skip
        self.model.to(self.device)
        self.precision = resolve_precision(self.tc.precision, self.device)
        self.optimizer = build_optimizer(self.model, self.tc, self.device)
        self.gen = torch.Generator().manual_seed(self.tc.seed)
        self.step = 0
        self.schedule_steps: int | None = None
        """The schedule's length when fitted to the time budget (else ``max_steps``)."""
        self.best = math.inf
        self.bad_evals = 0
        self.history: list[dict] = []
        # CPU copies of the weights at recent evaluations, for train.average_last.
        self.recent_states: collections.deque = collections.deque(maxlen=max(self.tc.average_last, 1))
        self._t_start = time.perf_counter()

    # --- state -----------------------------------------------------------------------------

    def _rng_state(self) -> dict[str, torch.Tensor]:
        state = {"torch": torch.get_rng_state(), "data": self.gen.get_state()}
        if torch.cuda.is_available() and self.device.type == "cuda":
            state["cuda"] = torch.cuda.get_rng_state()
        return state

    def _save(self, name: str, metrics: dict) -> None:
        if not self.dist.is_main:
            return
        ckpt.save_checkpoint(
            self.out / name,
            model=self.model,
            cfg=self.cfg,
            tokenizer=self.task.tokenizer,
            optimizer=self.optimizer,
            rng=self._rng_state(),
            step=self.step,
            metrics={k: v for k, v in metrics.items() if isinstance(v, (int, float))},
            schedule_steps=self.schedule_steps,
        )

    def _recover(self) -> None:
        """Undo what a killed run left behind (see :func:`checkpoint.recover_run_dir`)."""
        if self.dist.is_main:
            for line in ckpt.recover_run_dir(self.out):
                log.warning("%s", line)

    def _saved_step(self, name: str = "last") -> int | None:
        """The step ``<out_dir>/<name>`` holds, or None when there is none."""
        try:
            return int(ckpt.read_manifest(ckpt.resolve_checkpoint(self.out / name))["step"])
        except (FileNotFoundError, ValueError):
            return None

    def _stop_non_finite(self, what: str, step: int) -> TrainingError:
        held = self._saved_step()
        kept = f"{self.out / 'last'} keeps step {held}, the last finite state" if held is not None else (
            "no checkpoint was written")  # fmt: skip
        return TrainingError(
            f"{what} at step {step}; training stopped and nothing non-finite was saved: {kept}. "
            "Lower train.lr, keep train.grad_clip on, or use precision=fp32"
        )

    def resume(self, path: str | Path | None = None) -> None:
        """Continue from a checkpoint (default ``<out_dir>/last``): weights, optimizer, RNG, step."""
        self._recover()
        d = ckpt.resolve_checkpoint(path or self.out / "last")
        manifest = ckpt.read_manifest(d)
        ckpt.load_weights(self.model, d)
        ckpt.load_optimizer(self.optimizer, d)
        rng = ckpt.load_rng(d)
        if "torch" in rng:
            torch.set_rng_state(rng["torch"])
        if "data" in rng:
            self.gen.set_state(rng["data"])
        if "cuda" in rng and self.device.type == "cuda":
            torch.cuda.set_rng_state(rng["cuda"])
        self.step = int(manifest["step"])
        self.schedule_steps = manifest.get("schedule_steps")
        has_best = self._saved_step("best") is not None  # after _recover, best/ itself if any
        self.best = self._score(ckpt.read_manifest(self.out / "best")["metrics"]) if has_best else math.inf

    # --- loop ------------------------------------------------------------------------------

    def _log(self, record: dict) -> None:
        self.history.append(record)
        if self.dist.is_main:  # strict JSON: a non-finite number is written as null
            plain = {k: None if isinstance(v, float) and not math.isfinite(v) else v
                     for k, v in record.items()}  # fmt: skip
            with (self.out / "metrics.jsonl").open("a", encoding="utf-8") as f:
                f.write(json.dumps(plain, allow_nan=False) + "\n")

    def evaluate(self, split: str = "valid") -> dict:
        bs = max(1, self.tc.batch_size // self.dist.world)
        return self.task.evaluate(self.model, split, bs, self.tc.eval_batches)

    def _wrapped_model(self) -> nn.Module:
        """The model the steps run: compiled and/or DDP-wrapped as the config asks."""
        train_model: nn.Module = self.model
        if self.tc.compile:
            train_model = torch.compile(train_model)
        if self.dist.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            train_model = DDP(train_model, device_ids=ids)
        return train_model

    def _say(self, bar: tqdm, message: str) -> None:
        """A progress line, printed once: by the main process only (tqdm.write prints even when the
        bar is disabled, so under torchrun every rank would repeat it)."""
        if self.dist.is_main:
            bar.write(message)

    def _log_train(self, bar: tqdm, loss_sum: Tensor, lr: float, tps: float, elapsed: float) -> None:
        loss_v = mean_across(loss_sum, self.dist).item()
        self._log({"kind": "train", "step": self.step, "loss": loss_v, "lr": lr, "tokens_per_s": tps,
                   "elapsed_s": elapsed})  # fmt: skip
        bar.set_postfix(loss=f"{loss_v:.4f}", lr=f"{lr:.2e}", tok_s=f"{tps:,.0f}")

    def _after_eval(self, bar: tqdm, result: dict, stop: int, elapsed: float, first_step: int) -> int:
        """Report an evaluation and fit the schedule to the time budget; returns the new stop step."""
        ppl = f" (ppl {result['ppl']:.2f} per {result.get('unit', 'token')})" if "ppl" in result else ""
        self._say(bar, f"step {self.step}: valid loss {result['loss']:.4f}{ppl}")
        if self._fit_schedule(elapsed, self.step - first_step):
            stop = min(stop, self.schedule_steps)
            bar.total = self.schedule_steps
            self._say(bar, f"schedule fitted to the {self.tc.max_minutes} min budget: {self.schedule_steps} "
                      f"steps (max_steps {self.tc.max_steps})")  # fmt: skip
        return stop

    def fit(self, until_step: int | None = None) -> dict:
        """Train to ``max_steps`` (or ``until_step``, or the time budget). Returns the last eval.

        Raises:
            TrainingError: on a non-finite loss; ``<out_dir>/last`` keeps the last good state.
        """
        tc, out = self.tc, self.out
        if self.dist.is_main:
            out.mkdir(parents=True, exist_ok=True)
            save_yaml(self.cfg, out / "config.yaml")
            log.info("training in %s (train.precision=%s on %s)", self.precision, tc.precision,
                     self.device.type)  # fmt: skip
        self._recover()
        train_model = self._wrapped_model()
        stop = min(tc.max_steps, until_step or tc.max_steps, self.schedule_steps or tc.max_steps)
        bar = tqdm(
            total=self.schedule_steps or tc.max_steps,
            initial=self.step,
            disable=not (tc.progress and self.dist.is_main),
            dynamic_ncols=True,
            mininterval=1.0,
            unit="step",
        )
        t_start = self._t_start = time.perf_counter()
        first_step = self.step
        tokens_since, t_since = 0, t_start
        last_eval: dict = {}
        try:
            while self.step < stop:
                lr = lr_at(self.step, tc, self.schedule_steps)
                set_lr(self.optimizer, lr)
                loss_sum, ntok = self.train_step(train_model)
                tokens_since += ntok
                self.step += 1
                bar.update(1)
                elapsed_min = (time.perf_counter() - t_start) / 60
                # Every rank stops at the same step, when the first one runs out of time.
                time_up = (
                    tc.max_minutes is not None and agree_min(tc.max_minutes - elapsed_min, self.dist) <= 0
                )
                if self.step % tc.log_every == 0 or self.step == stop or time_up:
                    now = time.perf_counter()
                    self._log_train(bar, loss_sum, lr, tokens_since / max(now - t_since, 1e-9), now - t_start)
                    tokens_since, t_since = 0, now
                if self.step % tc.eval_every == 0 or self.step == stop or time_up:
                    last_eval = self._eval_and_save()
                    stop = self._after_eval(bar, last_eval, stop, time.perf_counter() - t_start, first_step)
                    if tc.early_stopping is not None and self.bad_evals >= tc.early_stopping:
                        self._say(bar, f"early stopping: no improvement in {self.bad_evals} evaluations")
                        break
                if time_up:
                    self._say(bar, f"time budget of {tc.max_minutes} min reached at step {self.step}")
                    break
            if tc.average_last > 1 and len(self.recent_states) > 1:
                avg = self.write_average()
                self._say(bar,
                    f"averaged last {len(self.recent_states)} evaluations: valid loss {avg['loss']:.4f}"
                )
        finally:
            bar.close()
            if self.dist.is_main and (out / "metrics.jsonl").exists():
                plot_losses(out / "metrics.jsonl", out / "loss.png", title=str(out))
        if until_step is None:
            # DDP's reducer holds a reference to the process group: drop it first, so that the
            # group's connections close when it is destroyed and not later, at interpreter exit,
            # when a peer's closed socket could surface as an abort in gloo's I/O thread.
            del train_model
            cleanup(self.dist)
        return last_eval

    def _fit_schedule(self, elapsed_s: float, steps_done: int) -> bool:
        """At the first evaluation, shorten the schedule to the steps the time budget allows
        (``train.fit_schedule_to_budget``). Returns True when it did. Done once, so the rest of
        the run (and a resumed run) follows one fixed schedule."""
        tc = self.tc
        if not tc.fit_schedule_to_budget or tc.max_minutes is None or self.schedule_steps is not None:
            return False
        per_step = elapsed_s / max(steps_done, 1)  # evaluation and checkpointing included
        # 2% margin: the final evaluation and save must fit too.
        left = int(0.98 * (tc.max_minutes * 60 - elapsed_s) / per_step)
        fitted = max(self.step + 1, min(tc.max_steps, self.step + left))
        self.schedule_steps = int(agree_min(fitted, self.dist))  # one schedule for every rank
        return self.schedule_steps < tc.max_steps

    def train_step(self, train_model: nn.Module) -> tuple[torch.Tensor, int]:
        """One optimizer step over ``grad_accum`` micro-batches at the current ``lr``.

        Returns the mean loss (a tensor, not synced) and the tokens processed by all processes.
        """
        tc = self.tc
        self.model.train()
        loss_sum = torch.zeros((), device=self.device)
        tokens = 0
        for micro in range(tc.grad_accum):
            batch = shard(self.task.train_batch(self.gen, tc.batch_size), self.dist)
            batch = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
            sync = micro == tc.grad_accum - 1 or self.dist.world == 1
            no_sync = contextlib.nullcontext() if sync else train_model.no_sync()
            with no_sync, autocast_for(tc, self.device):
                loss, ntok = self.task.loss(train_model, batch, tc.label_smoothing)
            if not torch.isfinite(loss):
                raise self._stop_non_finite(f"the training loss is {loss.item()}", self.step + 1)
            (loss / tc.grad_accum).backward()
            loss_sum += loss.detach() / tc.grad_accum
            tokens += ntok * self.dist.world
        if tc.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), tc.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return loss_sum, tokens

    def write_average(self) -> dict:
        """Evaluate and save the mean of the recent weights as ``<out_dir>/averaged``."""
        current = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self.model.load_state_dict(ckpt.average_states(list(self.recent_states)))
        metrics = self.evaluate("valid")
        self._log({"kind": "eval_averaged", "step": self.step, "n": len(self.recent_states), **metrics})
        self._save("averaged", metrics)
        self.model.load_state_dict(current)
        return metrics

    def _score(self, metrics: dict) -> float:
        """What ``best/`` minimises: the loss, or minus the ``train.select_by`` metric."""
        key = self.tc.select_by
        if key == "loss":
            return metrics["loss"]
        if key not in metrics:
            have = ", ".join(k for k, v in metrics.items() if isinstance(v, int | float))
            raise ValueError(
                f"train.select_by={key!r} is not a validation metric of this task; it has {have}"
            )
        return -float(metrics[key])

    def _eval_and_save(self) -> dict:
        if self.tc.average_last > 1:
            self.recent_states.append(
                {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}
            )
        metrics = self.evaluate("valid")
        elapsed = time.perf_counter() - self._t_start
        self._log({"kind": "eval", "step": self.step, "elapsed_s": elapsed, **metrics})
        finite = all(bool(p.isfinite().all()) for p in self.model.parameters())
        if not (finite and math.isfinite(metrics["loss"])):
            why = f"the validation loss is {metrics['loss']}" if finite else "the weights are not finite"
            raise self._stop_non_finite(why, self.step)
        self._save("last", metrics)
        if self._score(metrics) < self.best:
            self.best = self._score(metrics)
            self.bad_evals = 0
            self._save("best", metrics)
        else:
            self.bad_evals += 1
        return metrics
