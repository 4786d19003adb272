"""What every route shares: the backend dependency, HTTP Basic auth, zone checks, the
Sakura error body for every error, and the Sakura list-query format."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qsl, unquote

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from starlette.exceptions import HTTPException as StarletteHTTPException

from emulator.backend import Backend
from emulator.errors import BadRequest, EmulatorError, Unauthorized
from emulator.models.common import check_zone
from emulator.models.credentials import ApiCredentials

T = TypeVar("T")


def get_backend(request: Request) -> Backend:
    """The app's Backend."""
    backend: Backend = request.app.state.backend
    return backend


BackendDep = Annotated[Backend, Depends(get_backend)]

_basic = HTTPBasic(auto_error=False, realm="simgate", description="the access token and secret")


def require_auth(
    request: Request, credentials: Annotated[HTTPBasicCredentials | None, Depends(_basic)]
) -> None:
    """HTTP Basic with the emulator's access token (user) and secret (password); the
    guard (`emulator.api.guard`) checks every route already, this documents it."""
    guard = getattr(request.app.state, "guard", None)
    if guard is not None and not guard.auth_required:
        return
    expected: ApiCredentials = request.app.state.credentials
    if credentials is None or not expected.matches(credentials.username, credentials.password):
        raise Unauthorized("authentication failed: wrong or missing access token and secret")


def zone_param(zone: str) -> str:
    """The `{zone}` path parameter, checked."""
    return check_zone(zone)


Zone = Annotated[str, Depends(zone_param)]


def error_body(status: int, status_text: str, code: str, message: str) -> dict[str, Any]:
    """The Sakura Cloud error body."""
    return {
        "is_fatal": True,
        "serial": secrets.token_hex(16),
        "status": status_text,
        "error_code": code,
        "error_msg": message,
    }


def error_response(exc: EmulatorError) -> JSONResponse:
    """An EmulatorError as a Sakura error response."""
    headers = {"WWW-Authenticate": 'Basic realm="simgate"'} if exc.status == 401 else None
    return JSONResponse(
        error_body(exc.status, exc.status_text, exc.code, exc.message),
        status_code=exc.status,
        headers=headers,
    )


def _describe_validation(exc: RequestValidationError) -> str:
    problems = []
    for error in exc.errors()[:5]:
        location = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        kind = error.get("type", "")
        if kind == "json_invalid":
            problems.append("the body is not valid JSON")
        elif kind == "extra_forbidden":
            problems.append(f"{location}: unknown field")
        else:
            problems.append(f"{location or 'body'}: {error.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(problems)


def install_error_handlers(app: FastAPI) -> None:
    """Map every error to the Sakura error body, with its status."""

    async def emulator_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, EmulatorError)
        return error_response(exc)

    async def validation_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error_response(BadRequest(_describe_validation(exc), code="invalid_parameter"))

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
            exc.status_code, "error"
        )
        error = EmulatorError(str(exc.detail), code=code, status=exc.status_code)
        return error_response(error)

    app.add_exception_handler(EmulatorError, emulator_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)


def find_conditions(request: Request) -> dict[str, Any]:
    """The Sakura list query: the Go client sends the find conditions as raw JSON in the
    query string (`?{"From":0,"Count":10,"Filter":{...}}`); plain `From=&Count=` work too."""
    raw = request.url.query
    if not raw:
        return {}
    text = unquote(raw)
    if text.lstrip().startswith("{"):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            raise BadRequest("the find conditions in the query are not valid JSON") from None
        if not isinstance(value, dict):
            raise BadRequest("the find conditions must be a JSON object")
        return value
    return dict(parse_qsl(raw))


def _tags_match(tags: Any, wanted: Any) -> bool:
    """`Tags.Name`: a tag, a list of alternatives, and a list inside that list is a set
    of tags the item must all carry (saklient's `with_tags`, iaas-api-go's
    `TagsAndEqual`: `[["t1", "t2"]]`), so `[["a", "b"], ["c"]]` is (a and b) or c."""
    have = {str(t) for t in tags} if isinstance(tags, list) else set()
    groups = wanted if isinstance(wanted, list) else [wanted]
    for group in groups:
        needed = group if isinstance(group, list) else [group]
        if all(str(tag) in have for tag in needed):
            return True
    return False


def _matches(item: dict[str, Any], key: str, wanted: Any) -> bool:
    if key == "Tags.Name":
        return _tags_match(item.get("Tags"), wanted)
    value: Any = item
    for part in key.split("."):
        if isinstance(value, list):
            value = [v.get(part) if isinstance(v, dict) else None for v in value]
        elif isinstance(value, dict):
            value = value.get(part)
        else:
            return True  # a key the emulator does not know filters nothing
    wanted_list = wanted if isinstance(wanted, list) else [wanted]
    if key == "Name":
        words = " ".join(str(w) for w in wanted_list).lower().split()
        return all(word in str(value).lower() for word in words)
    if isinstance(value, list):
        return all(str(w) in [str(v) for v in value] for w in wanted_list)
    return any(str(value) == str(w) for w in wanted_list)


def _page_number(conditions: dict[str, Any], key: str) -> int:
    """`From` or `Count`: a whole number from 0 (a JSON number, or digits in a plain query)."""
    value = conditions.get(key)
    if value is None or value == "":
        return 0
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63:
        return value
    raise BadRequest(
        f"{key} must be a whole number from 0, not {str(value)[:40]!r}", code="invalid_parameter"
    )


def paginate(
    items: Sequence[dict[str, Any]], conditions: dict[str, Any]
) -> tuple[int, int, list[Any]]:
    """Filter (`Filter` keys such as `Name`, `ID`, `Class`, `Provider.Class`,
    `Tags.Name`) and page (`From`, `Count`; 0 = all): (total, from, page)."""
    filters = conditions.get("Filter") or {}
    if not isinstance(filters, dict):
        raise BadRequest("Filter must be a JSON object")
    selected = [i for i in items if all(_matches(i, str(k), v) for k, v in filters.items())]
    start = _page_number(conditions, "From")
    count = _page_number(conditions, "Count")
    page = selected[start : start + count] if count else selected[start:]
    return len(selected), start, page
