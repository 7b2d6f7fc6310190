"""Each process's cached copy of the priority weights admins set (PriorityWeights)."""

import time

from moderation.cases.models import PriorityWeights
from moderation.cases.priority import Weights

# How often a process checks whether the weights changed (a tiny query on one row).
REFRESH_SECONDS = 2.0


class _Cache:
    weights: Weights | None = None
    version: int | None = None
    checked_at: float = 0.0


def current_weights() -> Weights:
    """The weights in force, read at most every REFRESH_SECONDS: hot paths (intake) must not
    query for them each time, and an admin's change reaches every process within seconds."""
    now = time.monotonic()
    if _Cache.weights is None or now - _Cache.checked_at > REFRESH_SECONDS:
        version = PriorityWeights.objects.filter(pk=1).values_list("version", flat=True).first()
        if _Cache.weights is None or version != _Cache.version:
            _Cache.weights = PriorityWeights.load().as_weights()
            _Cache.version = version
        _Cache.checked_at = now
    return _Cache.weights


def forget_weights() -> None:
    _Cache.weights, _Cache.version, _Cache.checked_at = None, None, 0.0
