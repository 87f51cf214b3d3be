"""Rows of the statements in `queries` as the store's values.

Rows arrive as tuples, in the column order each statement's select list states (a dict per row
would cost more than the mapping itself). The database already checked every value it returns,
so nothing is validated again here.
"""

from __future__ import annotations

from typing import Any

from lift_db.store.models import (
    AnalyticsEvent,
    HistoryEntry,
    PromptSession,
    SessionEmbedding,
    Share,
    SimilarSession,
)

Row = tuple[Any, ...]


def session_from_row(row: Row) -> PromptSession:
    # id, user_id, prompt, status, current_ir, ir_version, metadata, created_at, updated_at
    metadata = row[6] or {}
    return PromptSession(
        id=row[0],
        user_id=row[1],
        prompt=row[2],
        status=row[3],
        current_ir=row[4],
        ir_version=row[5],
        holes=list(metadata.get("holes", ())),
        assists=list(metadata.get("assists", ())),
        created_at=row[7],
        updated_at=row[8],
    )


def history_from_row(row: Row) -> HistoryEntry:
    # session_id, version, ir_snapshot, change_description, created_at, author_id
    return HistoryEntry(
        session_id=row[0],
        version=row[1],
        ir_snapshot=row[2],
        change_description=row[3],
        created_at=row[4],
        author_id=row[5],
    )


def embedding_from_row(row: Row) -> SessionEmbedding:
    # session_id, model, ir_version, current_ir_version, created_at, updated_at
    return SessionEmbedding(
        session_id=row[0],
        model=row[1],
        ir_version=row[2],
        current_ir_version=row[3],
        created_at=row[4],
        updated_at=row[5],
    )


def similar_from_row(row: Row) -> SimilarSession:
    # session_id, similarity, is_stale
    return SimilarSession(session_id=row[0], similarity=row[1], is_stale=row[2])


def share_from_row(row: Row) -> Share:
    # session_id, user_id, role, created_at, updated_at
    return Share(
        session_id=row[0], user_id=row[1], role=row[2], created_at=row[3], updated_at=row[4]
    )


def event_from_row(row: Row) -> AnalyticsEvent:
    # id, session_id, user_id, event_type, event_data, latency_ms, created_at
    return AnalyticsEvent(
        id=row[0],
        session_id=row[1],
        user_id=row[2],
        event_type=row[3],
        event_data=row[4],
        latency_ms=row[5],
        created_at=row[6],
    )
