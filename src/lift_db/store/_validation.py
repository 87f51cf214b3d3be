"""What makes a value acceptable to the session store, checked before either store touches it.

Both stores call these, so both refuse the same input with the same InvalidInputError; the
database enforces the same bounds again (its constraints and caps), mapped by SQLSTATE.
"""

from __future__ import annotations

import json
import math
import re
import struct
from collections.abc import Sequence
from typing import Any, get_args
from uuid import UUID

from lift_db.store.errors import InvalidInputError
from lift_db.store.models import JsonObject, NewSession, PromptSession, SessionStatus, ShareRole

STATUSES: tuple[str, ...] = get_args(SessionStatus)
SHARE_ROLES: tuple[str, ...] = get_args(ShareRole)
# PostgreSQL's integer: versions and latencies are int4 columns, and a larger Python int would
# not even reach the database's functions.
MAX_INT4 = 2**31 - 1
MAX_PROMPT_CHARS = 20_000
MAX_DESCRIPTION_CHARS = 1_000
# The database declares it once, as the type of public.session_embeddings.embedding; a test checks
# that this copy agrees.
EMBEDDING_DIMENSIONS = 1536
MAX_MODEL_CHARS = 200
# public.match_sessions' bounds on match_count.
MAX_SEARCH_LIMIT = 100
# The database's bounds on analytics events (constraints of public.analytics_events).
EVENT_TYPE = re.compile(r"[a-z][a-z0-9_.:-]{0,63}")
MAX_EVENT_DATA_BYTES = 65_536
# PostgreSQL's jsonb refuses nesting deeper than this (and Python's json recursion would fail).
MAX_JSON_DEPTH = 100


def validate_new_session(new: NewSession) -> None:
    validate_prompt(new.prompt)
    validate_status(new.status)
    if new.current_ir is not None:
        validate_ir(new.current_ir)
    validate_list("holes", new.holes)
    validate_list("assists", new.assists)
    if new.id is not None:
        parse_uuid(new.id)
    if new.user_id is not None:
        parse_uuid(new.user_id, "user id")
    validate_description(new.change_description)


def parse_uuid(value: object, what: str = "session id") -> UUID:
    if isinstance(value, UUID):
        return value
    if isinstance(value, str):
        try:
            return UUID(value)
        except ValueError:
            pass
    raise InvalidInputError(f"{what} is not a UUID: {value!r:.80}")


def validate_prompt(prompt: object) -> str:
    if not isinstance(prompt, str):
        raise InvalidInputError(f"prompt must be text, not {type(prompt).__name__}")
    if not prompt.strip():
        raise InvalidInputError("prompt must not be empty")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise InvalidInputError(f"prompt is longer than {MAX_PROMPT_CHARS} characters")
    _check_text("prompt", prompt)
    return prompt


def validate_status(status: object) -> SessionStatus:
    if status not in STATUSES:
        raise InvalidInputError(f"status must be one of {', '.join(STATUSES)}, not {status!r:.40}")
    return status  # type: ignore[return-value]


def validate_ir(ir: object) -> JsonObject:
    if not isinstance(ir, dict):
        raise InvalidInputError(f"IR must be a JSON object, not {type(ir).__name__}")
    _check_json("IR", ir, depth=0)
    return ir


def validate_list(what: str, value: object) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidInputError(f"{what} must be a list, not {type(value).__name__}")
    _check_json(what, value, depth=0)
    return value


def validate_description(description: object) -> str | None:
    if description is None:
        return None
    if not isinstance(description, str):
        raise InvalidInputError("change description must be text")
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise InvalidInputError(
            f"change description is longer than {MAX_DESCRIPTION_CHARS} characters"
        )
    _check_text("change description", description)
    return description


def validate_version(value: object, what: str, *, expected: bool = False) -> int:
    """A version number: to_version may be any int (unknown ones are not found), an expected
    version, like the database's, is 0 or more."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInputError(f"{what} must be an integer, not {type(value).__name__}")
    if value > MAX_INT4 or value < (0 if expected else -MAX_INT4 - 1):
        bounds = f"0 and {MAX_INT4}" if expected else f"{-MAX_INT4 - 1} and {MAX_INT4}"
        raise InvalidInputError(f"{what} must be between {bounds}, not {value}")
    return value


def validate_share_role(role: object) -> ShareRole:
    if role not in SHARE_ROLES:
        raise InvalidInputError(
            f"share role must be one of {', '.join(SHARE_ROLES)}, not {role!r:.40}"
        )
    return role  # type: ignore[return-value]


def validate_event_type(event_type: object) -> str:
    if not isinstance(event_type, str) or not EVENT_TYPE.fullmatch(event_type):
        raise InvalidInputError(
            "event type must be 1 to 64 characters of a-z, 0-9, '_', '.', ':' or '-', starting "
            f"with a letter, not {event_type!r:.80}"
        )
    return event_type


def validate_event_data(data: object) -> JsonObject:
    if not isinstance(data, dict):
        raise InvalidInputError(f"event data must be a JSON object, not {type(data).__name__}")
    _check_json("event data", data, depth=0)
    prompt_type = data.get("prompt_type")
    if prompt_type is not None and not isinstance(prompt_type, str):
        raise InvalidInputError("event data's prompt_type must be a string")
    # jsonb prints with the same separators as json.dumps; key order does not change the size.
    if len(json.dumps(data, ensure_ascii=False).encode()) > MAX_EVENT_DATA_BYTES:
        raise InvalidInputError(f"event data is larger than {MAX_EVENT_DATA_BYTES} bytes")
    return data


def validate_latency(latency_ms: object) -> int | None:
    if latency_ms is None:
        return None
    if not isinstance(latency_ms, int) or isinstance(latency_ms, bool):
        raise InvalidInputError(f"latency_ms must be an integer, not {type(latency_ms).__name__}")
    if not 0 <= latency_ms <= MAX_INT4:
        raise InvalidInputError(f"latency_ms must be between 0 and {MAX_INT4}, not {latency_ms}")
    return latency_ms


def validate_update(session: PromptSession, change_description: str | None) -> None:
    """What `update` checks before touching either store."""
    validate_prompt(session.prompt)
    validate_status(session.status)
    validate_list("holes", session.holes)
    validate_list("assists", session.assists)
    validate_description(change_description)
    if session.current_ir is not None:
        validate_ir(session.current_ir)


def validate_limit(limit: object) -> int | None:
    if limit is None:
        return None
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
        raise InvalidInputError("limit must be 0 or more")
    return limit


def _check_json(what: str, value: object, depth: int) -> None:
    if depth > MAX_JSON_DEPTH:
        raise InvalidInputError(f"{what} is nested deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInputError(f"{what} has a non-text key: {key!r:.40}")
            _check_text(what, key)
            _check_json(what, item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_json(what, item, depth + 1)
    elif isinstance(value, str):
        _check_text(what, value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInputError(f"{what} holds a non-finite number ({value})")
    elif value is not None and not isinstance(value, bool | int):
        raise InvalidInputError(f"{what} holds a {type(value).__name__}, which is not JSON")


def _check_text(what: str, text: str) -> None:
    # PostgreSQL text cannot hold NUL, and lone surrogates are not valid UTF-8.
    if "\x00" in text:
        raise InvalidInputError(f"{what} contains a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInputError(f"{what} is not valid UTF-8 text") from exc


def validate_embedding(embedding: object, what: str = "embedding") -> tuple[float, ...]:
    """The embedding as the database stores it: EMBEDDING_DIMENSIONS float4 values, finite, not
    all zero (cosine similarity is undefined for the zero vector)."""
    if isinstance(embedding, str | bytes) or not isinstance(embedding, Sequence):
        raise InvalidInputError(f"{what} must be a sequence of numbers")
    if len(embedding) != EMBEDDING_DIMENSIONS:
        raise InvalidInputError(
            f"{what} has {len(embedding)} dimensions; session embeddings have "
            f"{EMBEDDING_DIMENSIONS}"
        )
    numbers: list[float] = []
    for index, value in enumerate(embedding):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInputError(f"{what}[{index}] is not a number: {value!r:.40}")
        try:
            number = float(value)
        except OverflowError as exc:
            raise InvalidInputError(f"{what}[{index}] is beyond float4 range") from exc
        if not math.isfinite(number):
            raise InvalidInputError(f"{what}[{index}] is not finite ({number})")
        numbers.append(number)
    # Rounded to float4, as pgvector stores it: too large becomes infinite, too small zero.
    packed = struct.pack(f"{EMBEDDING_DIMENSIONS}f", *numbers)
    rounded: tuple[float, ...] = struct.unpack(f"{EMBEDDING_DIMENSIONS}f", packed)
    for index, number in enumerate(rounded):
        if math.isinf(number):
            raise InvalidInputError(f"{what}[{index}] is beyond float4 range: {numbers[index]!r}")
    if not any(rounded):
        raise InvalidInputError(
            f"{what} is the zero vector, for which cosine similarity is undefined"
        )
    return rounded


def embedding_text(embedding: tuple[float, ...]) -> str:
    """pgvector's text form; repr of a float4 value reads back as exactly that value."""
    return "[" + ",".join(repr(x) for x in embedding) + "]"


def validate_model(model: object) -> str:
    if not isinstance(model, str):
        raise InvalidInputError(f"model must be text, not {type(model).__name__}")
    if not model.strip():
        raise InvalidInputError("model must not be empty")
    if len(model) > MAX_MODEL_CHARS:
        raise InvalidInputError(f"model is longer than {MAX_MODEL_CHARS} characters")
    _check_text("model", model)
    return model


def validate_ir_version(version: object) -> int:
    if isinstance(version, bool) or not isinstance(version, int):
        raise InvalidInputError(f"ir_version must be an integer, not {type(version).__name__}")
    if not 1 <= version <= MAX_INT4:
        raise InvalidInputError(f"ir_version must be 1 or more, not {version}")
    return version


def validate_search(limit: object, min_similarity: object) -> tuple[int, float]:
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise InvalidInputError(f"limit must be an integer, not {type(limit).__name__}")
    if not 1 <= limit <= MAX_SEARCH_LIMIT:
        raise InvalidInputError(f"limit must be between 1 and {MAX_SEARCH_LIMIT}, not {limit}")
    if isinstance(min_similarity, bool) or not isinstance(min_similarity, int | float):
        raise InvalidInputError(
            f"min_similarity must be a number, not {type(min_similarity).__name__}"
        )
    if not -1 <= min_similarity <= 1:  # NaN fails this too
        raise InvalidInputError(f"min_similarity must be between -1 and 1, not {min_similarity}")
    return limit, float(min_similarity)
