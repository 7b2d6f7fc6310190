"""The priority weights admins set, and each process's cached copy of them."""

import time
from types import MappingProxyType

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from moderation.priority import DEFAULT_WEIGHTS, Weights
from reports.categories import Category

# Largest points any one input may be worth: keeps sums far from integer overflow and typos
# (50000 for 500) out.
MAX_POINTS = 100_000
# How often a process checks whether the weights changed (a tiny query on one row).
REFRESH_SECONDS = 2.0


def _default_severity() -> dict:
    return dict(DEFAULT_WEIGHTS.severity)


class PriorityWeights(models.Model):
    """One row: the points each priority input is worth. Edited in the admin; every change
    recomputes the priority of every open case."""

    severity = models.JSONField(
        default=_default_severity, help_text="Points per category, by category code."
    )
    involves_child = models.PositiveIntegerField(default=DEFAULT_WEIGHTS.involves_child)
    bank_match = models.PositiveIntegerField(
        default=DEFAULT_WEIGHTS.bank_match,
        help_text="A match in a bank that raises priority or routes the case.",
    )
    known_material_match = models.PositiveIntegerField(
        default=DEFAULT_WEIGHTS.known_material_match,
        help_text="A match in a bank of known material. Must outrank any case without one.",
    )
    per_extra_reporter = models.PositiveIntegerField(
        default=DEFAULT_WEIGHTS.per_extra_reporter,
        help_text="For each distinct reporter beyond the first.",
    )
    max_reporter_points = models.PositiveIntegerField(default=DEFAULT_WEIGHTS.max_reporter_points)
    flag_score_weight = models.PositiveIntegerField(
        default=DEFAULT_WEIGHTS.flag_score_weight,
        help_text="Points for a classifier score of 1.0 (a score of 0.9 earns 90% of them).",
    )
    reliability_weight = models.PositiveIntegerField(
        default=DEFAULT_WEIGHTS.reliability_weight,
        help_text="Points for a reporter all of whose past decided reports were upheld (80% upheld "
        "earns 80% of them). Counts once a reporter has 5 decided reports.",
    )
    reach_points_per_decade = models.PositiveIntegerField(
        default=DEFAULT_WEIGHTS.reach_points_per_decade,
        help_text="Reach counts on a log scale: points per tenfold audience (10, 100, 1,000 views).",
    )
    max_reach_points = models.PositiveIntegerField(default=DEFAULT_WEIGHTS.max_reach_points)
    per_waiting_hour = models.PositiveIntegerField(
        default=DEFAULT_WEIGHTS.per_waiting_hour,
        help_text="For each hour a case has waited, so nothing starves.",
    )
    max_waiting_points = models.PositiveIntegerField(default=DEFAULT_WEIGHTS.max_waiting_points)
    # Bumped on every change, so every process knows to reload (see current_weights).
    version = models.PositiveBigIntegerField(default=1, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = "priority weights"
        verbose_name_plural = "priority weights"
        constraints = [models.CheckConstraint(condition=models.Q(pk=1), name="one_weights_row")]

    def __str__(self):
        return "Priority weights"

    def as_weights(self) -> Weights:
        return Weights(
            severity=MappingProxyType({c: int(self.severity.get(c, 0)) for c in Category.values}),
            **{name: getattr(self, name) for name in Weights.number_fields()},
        )

    def clean(self):
        errors = {}
        severity = self.severity
        if not isinstance(severity, dict):
            errors["severity"] = "An object of points per category."
        else:
            unknown = sorted(set(severity) - set(Category.values))
            missing = sorted(set(Category.values) - set(severity))
            bad = sorted(
                c
                for c, v in severity.items()
                if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= MAX_POINTS
            )
            if unknown:
                errors["severity"] = f"Unknown categories: {', '.join(unknown)}."
            elif missing:
                errors["severity"] = f"Points are needed for: {', '.join(missing)}."
            elif bad:
                errors["severity"] = (
                    f"Whole numbers from 0 to {MAX_POINTS:,} are needed for: {', '.join(bad)}."
                )
        for name in Weights.number_fields():
            value = getattr(self, name)
            if value is not None and value > MAX_POINTS:
                errors[name] = f"At most {MAX_POINTS:,}."
        if not errors:
            top = self.as_weights().max_points_without_known_material()
            if self.known_material_match <= top:
                errors["known_material_match"] = (
                    f"Must be more than {top:,}, the most a case can score without a "
                    "known-material match, so known material always comes first."
                )
        if errors:
            raise ValidationError(errors)

    @classmethod
    def load(cls) -> "PriorityWeights":
        row = cls.objects.filter(pk=1).first()
        return row if row is not None else cls(pk=1)


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
