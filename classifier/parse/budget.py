"""The time one message may take, from raw bytes to verdict.

A message is read in stages: parse (MIME), extraction (format, recipients, diagnostics),
rules, model. Each stage is bounded on its own (input sizes, linear expressions), but a
message that makes one stage slow must not go on to cost the others too: the budget is
checked between the stages, and the first check that finds it spent stops the message with
:class:`OverBudget` (a :class:`~classifier.parse.MessageError`, so every caller that reports
unreadable messages reports this one the same way, naming the stage it stopped before).
"""
from __future__ import annotations

import time

from classifier.parse.limits import TIME_BUDGET
from classifier.parse.load import MessageError


class OverBudget(MessageError):
    """A message took longer than its budget; ``stage`` is the stage that was not run."""

    def __init__(self, stage: str, seconds: float):
        super().__init__(f"over budget: the message took more than {seconds:g} s, stopped before {stage}")
        self.stage = stage


class Budget:
    """A deadline, ``seconds`` from now (``clock`` is :func:`time.monotonic`)."""

    __slots__ = ("clock", "deadline", "seconds")

    def __init__(self, seconds: float = TIME_BUDGET, clock=time.monotonic):
        self.seconds, self.clock = seconds, clock
        self.deadline = clock() + seconds

    def check(self, stage: str) -> None:
        """Raise :class:`OverBudget` when the budget is spent, before ``stage`` runs."""
        if self.clock() > self.deadline:
            raise OverBudget(stage, self.seconds)
