"""The progress bar of ``jit-env train`` (rich), or nothing with ``--no-progress``."""

from __future__ import annotations

import math


class Progress:
    """A rich progress bar (or nothing) showing steps, steps/s and the latest return."""

    def __init__(self, total: int, *, enabled: bool, done: int = 0):
        self._bar = None
        if not enabled:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._bar = Progress(
            TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(),
            TextColumn("steps · {task.fields[rate]} steps/s · return {task.fields[ret]}"),
            TimeElapsedColumn(),
        )
        self._task = self._bar.add_task("train", total=total, completed=done, rate="-", ret="-")
        self._bar.start()

    def advance(self, steps: int, rate: float, ret: float, eval_ret: float = math.nan) -> None:
        """Moves the bar to ``steps`` (environment steps) showing ``rate`` (steps/s), the
        latest mean return ``ret`` and evaluation return ``eval_ret`` (NaN: none yet)."""
        if self._bar is not None:
            text = "-" if math.isnan(ret) else f"{ret:.1f}"
            if not math.isnan(eval_ret):
                text += f" · eval {eval_ret:.1f}"
            self._bar.update(self._task, advance=steps, rate=f"{rate:,.0f}", ret=text)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
