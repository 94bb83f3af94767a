"""Performance metrics: the units of work behind the repository's metrics methods."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import ValidationError
from .queries import QUERIES
from .records import METRICS_COLUMNS, PerformanceMetrics, check_fields, metrics_from_row, new_row
from .bots import require_bots
from .database import Session
from .values import new_uuid, time_to_text, utc_now

INSERT_METRICS = QUERIES["insert_performance_metrics"]
GET_METRICS = QUERIES["get_performance_metrics"]


def create_performance_metrics(session: Session, data: Mapping[str, Any]) -> PerformanceMetrics:
    """Store one calculation of a bot's performance; calculated_at defaults to now."""
    check_fields("performance metrics record", data, METRICS_COLUMNS, fixed=("created_at",))
    if data.get("bot_id") is None:
        raise ValidationError("bot_id", "is required for performance metrics")
    now = time_to_text(utc_now())
    row = new_row(METRICS_COLUMNS, data)
    row["id"] = row["id"] or new_uuid()
    row["calculated_at"] = row["calculated_at"] or now
    row["created_at"] = now
    require_bots(session, {row["bot_id"]})
    session.exec(INSERT_METRICS, row)
    return metrics_from_row(tuple(row.values()))


def get_performance_metrics(session: Session, bot_id: str, limit: int) -> list[PerformanceMetrics]:
    """A bot's metrics, newest calculation first."""
    return [metrics_from_row(row) for row in session.many(GET_METRICS, {"bot_id": bot_id, "limit": limit})]
