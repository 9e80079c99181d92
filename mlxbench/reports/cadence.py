"""The price of forcing: a training step's time when evaluation is forced every step vs once at the end.

Training workloads have variants `<mode>-<cadence>` (`eager-step`, `compiled-end`, ...). For each
workload, backend and mode this pairs the `step` and `end` cells and gives their ratio. An eager
backend has no `-end` variant: every op has finished when it returns, so it is the same program.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from mlxbench.reports.report import Cell, Report, finite


@dataclass
class CadenceRow:
    workload: str
    backend: str
    mode: str  # "eager" | "compiled" | ...
    step: Cell | None
    end: Cell | None

    @property
    def unit(self) -> str:
        cell = self.step or self.end
        return cell.unit if cell and cell.unit else "round"

    def per(self, cell: Cell | None) -> float:
        """Seconds per step (per unit of work), or per round when the workload gave no rate."""
        if cell is None:
            return math.nan
        return cell.per_unit if finite(cell.per_unit) else cell.median

    @property
    def price(self) -> float:
        """Time per step forced every step / time per step forced once at the end (> 1: forcing costs)."""
        step, end = self.per(self.step), self.per(self.end)
        return step / end if finite(step) and finite(end) and end > 0 else math.nan

    @property
    def eager(self) -> bool:
        cell = self.step or self.end
        return bool(cell and cell.execution == "eager")

    def as_dict(self) -> dict[str, Any]:
        return {
            "workload": self.workload,
            "backend": self.backend,
            "mode": self.mode,
            "unit": self.unit,
            "step_cadence_s": self.per(self.step),
            "end_cadence_s": self.per(self.end),
            "price_of_forcing": self.price,
            "end_skipped": self.end is None and self.eager,
        }


def rows(rep: Report) -> list[CadenceRow]:
    """Every (workload, backend, mode) with a cadence variant, in the run's order."""
    found: dict[tuple[str, str, str], CadenceRow] = {}
    for c in rep.cells:
        if c.cadence not in ("step", "end"):
            continue
        mode = c.variant.rpartition("-")[0] if c.variant.endswith("-" + c.cadence) else c.variant
        row = found.setdefault((c.workload, c.backend, mode), CadenceRow(c.workload, c.backend, mode, None, None))
        setattr(row, c.cadence, c)
    return list(found.values())
