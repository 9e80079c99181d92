"""MNIST MLP in PyTorch: `nn.Sequential` + `optim.SGD`; compiled: `torch.compile` of the model."""

from __future__ import annotations

import itertools

import torch
from torch import nn

from mlxbench.workload import Unsupported


class Trainer:
    def __init__(self, backend, plan, compiled: bool, force_step) -> None:
        dev = backend.device_for(backend.device)
        self.x, self.y = backend.asarray(plan.train_x), backend.asarray(plan.train_y).long()
        self.batches = [backend.asarray(b).long() for b in plan.batches]
        sizes = (784, *plan.spec.hidden, 10)
        layers: list[nn.Module] = []
        for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
            layers += [nn.Linear(fan_in, fan_out, device=dev)] + ([nn.ReLU()] if i < len(sizes) - 2 else [])
        self.model = nn.Sequential(*layers)
        self.linears = [m for m in self.model if isinstance(m, nn.Linear)]
        self.forward = torch.compile(self.model) if compiled else self.model
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=plan.spec.lr)
        self.loss_fn = nn.CrossEntropyLoss()
        self.sync, self.force_step = backend.sync, force_step
        # Warm-up (compilation, first-call costs) on one batch, then restore the initial weights.
        self.load(plan.params)
        try:
            ids = self.batches[0][0]
            self.step(self.x[ids], self.y[ids])
            self.sync(None)
        except Exception as exc:
            if not compiled:
                raise
            first = (str(exc).strip().splitlines() or [""])[0]
            raise Unsupported(f"torch.compile fails on {dev}: {type(exc).__name__}: {first}") from exc
        self.load(plan.params)

    def load(self, params) -> None:
        with torch.no_grad():
            for layer, (w, b) in zip(self.linears, params, strict=True):
                layer.weight.copy_(torch.from_numpy(w))
                layer.bias.copy_(torch.from_numpy(b))

    def step(self, x, y) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        self.loss_fn(self.forward(x), y).backward()
        self.optimizer.step()

    def train_epoch(self, epoch: int):
        for ids in self.batches[epoch]:
            self.step(self.x[ids], self.y[ids])
            self.force_step(None)  # a device synchronize at step cadence (a no-op on the CPU)
        return [(layer.weight, layer.bias) for layer in self.linears]

    def snapshot(self):
        return [
            (layer.weight.detach().cpu().numpy().copy(), layer.bias.detach().cpu().numpy().copy())
            for layer in self.linears
        ]


def make_trainer(backend, plan, compiled: bool, force_step) -> Trainer:
    return Trainer(backend, plan, compiled, force_step)
