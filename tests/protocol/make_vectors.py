"""Build tests/protocol/vectors.json: frames with their exact bytes, for us and for other implementations.

Run `python -m tests.protocol.make_vectors` after changing the protocol on purpose; test_vectors.py fails
until the file matches what this module builds. Each vector is

    {"name", "expect": "ok" | "RemoteProtocolError" | "SignatureError", "exact": bool,
     "type", "body", "request_id", "key", "hex", "diag", "note"}

`body` is the message body as JSON (a CBOR byte string appears as {"$hex": "..."}); `key` is the HMAC
key in hex or null; `hex` is the whole frame. For "ok" vectors with `exact` true, `hex` is exactly what
our encoder writes; with `exact` false the frame was written by a different (valid) encoder and must be
accepted all the same. For error vectors `request_id` is the id the receiver can still recover (or null).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import cbor2
from stui.protocol import AttachSession as AttachSession
from stui.protocol import (
    CleanupImageSessions,
    CleanupReport,
    CloseSession,
    Complete,
    CompletionItem,
    Completions,
    ConnectImage,
    ConnectionHealth,
    ConnectionStatus,
    ContextSwitched,
    CreateSession,
    DisconnectImage,
    Error,
    ErrorCode,
    ErrorDetails,
    EvalMode,
    EvalResult,
    Evaluate,
    GetImageConnectionStatus,
    GetImageSessionStats,
    Hello,
    ImageConnectionStatus,
    ImageHealthChanged,
    ImageRestarted,
    ImageSessions,
    ImageSessionStats,
    ImageShutdown,
    ImageStatusChanged,
    Inspect,
    Inspection,
    Interrupt,
    InterruptAck,
    ListImageSessions,
    ListSessions,
    Ping,
    Pong,
    ProtocolError,
    SessionClosed,
    SessionExpired,
    SessionList,
    SessionOpened,
    SessionOrphaned,
    SessionRecord,
    SessionStatus,
    SessionSummary,
    Slot,
    SwitchImageContext,
    SystemInfo,
    SystemInfoReply,
    TranscriptOutput,
    TranscriptReceived,
    Welcome,
    decode,
    encode,
    sign,
)

PATH = Path(__file__).with_name("vectors.json")
KEY = b"stui-test-key"

_S = SessionSummary(
    session_id="s-1",
    name="main",
    client_id="c-42",
    created_at=1700000000.0,
    last_activity=1700000060.5,
    variables=("x", "total"),
)

#: (name, message, request_id, key). Ids follow the protocol: requests and their replies share one,
#: events carry 0 or the id of the request they belong to.
MESSAGES: list[tuple[str, Any, int, bytes]] = [
    ("hello", Hello(client_id="c-42", client_version="0.1.0"), 1, b""),
    ("hello signed", Hello(versions=(1, 2), client_id="c-42", client_version="0.1.0"), 1, KEY),
    (
        "welcome",
        Welcome(
            version=1,
            image_id="img-7f3a",
            instance_id="inst-0001",
            image_name="alpha",
            dialect="Pharo",
            dialect_version="12.0",
            capabilities=("interrupt", "inspect", "complete", "transcript"),
            metadata=(("host", "build-3"), ("pid", "4711")),
        ),
        1,
        b"",
    ),
    (
        "welcome signed",
        Welcome(
            version=1,
            image_id="img-7f3a",
            instance_id="inst-0001",
            image_name="alpha",
            dialect="Pharo",
            dialect_version="12.0",
        ),
        1,
        KEY,
    ),
    ("ping", Ping(timestamp=1700000000.25), 2, b""),
    ("ping signed", Ping(timestamp=1700000000.25), 2, KEY),
    ("pong", Pong(timestamp=1700000000.25, image_time=1700000000.5), 2, b""),
    ("create session", CreateSession(name="main"), 3, b""),
    ("create session, no name", CreateSession(), 3, KEY),
    ("session opened", SessionOpened(session=_S, resumed=False), 3, b""),
    ("attach session", AttachSession(session_id="s-1"), 4, b""),
    ("session opened, resumed", SessionOpened(session=_S, resumed=True), 4, KEY),
    ("close session", CloseSession(session_id="s-1"), 5, b""),
    ("session closed", SessionClosed(session_id="s-1"), 5, b""),
    ("list sessions", ListSessions(all_clients=True), 6, b""),
    ("session list", SessionList(sessions=(_S, SessionSummary(session_id="s-2"))), 6, b""),
    ("session list, empty", SessionList(sessions=()), 6, b""),
    ("evaluate", Evaluate(session_id="s-1", source="3 + 4"), 7, b""),
    (
        "evaluate signed with budget",
        Evaluate(
            session_id="s-1", source="Transcript show: 'hi'", mode=EvalMode.EXECUTE, time_budget=2.5
        ),
        8,
        KEY,
    ),
    (
        "eval result",
        EvalResult(print_string="7", class_name="SmallInteger", elapsed=0.000125),
        7,
        b"",
    ),
    (
        "eval result with handle",
        EvalResult(
            print_string="an OrderedCollection(1 2 3)",
            class_name="OrderedCollection",
            handle=17,
            elapsed=0.002,
            truncated=False,
        ),
        9,
        KEY,
    ),
    ("transcript output", TranscriptOutput(session_id="s-1", text="hi"), 8, b""),
    ("transcript output, image-wide", TranscriptOutput(session_id=None, text="GC done\n"), 0, b""),
    ("interrupt", Interrupt(target_id=10), 11, b""),
    ("interrupt ack", InterruptAck(target_id=10, was_running=True), 11, b""),
    (
        "error interrupted",
        Error(code=ErrorCode.INTERRUPTED, message="interrupted by the user"),
        10,
        b"",
    ),
    (
        "error with details",
        Error(
            code=ErrorCode.EVALUATION_ERROR,
            message="SmallInteger>>zork not understood",
            details=ErrorDetails(
                error_class="MessageNotUnderstood",
                selector="zork",
                receiver_class="SmallInteger",
                stack=("SmallInteger(Object)>>doesNotUnderstand: #zork", "UndefinedObject>>DoIt"),
            ),
        ),
        12,
        b"",
    ),
    (
        "error syntax",
        Error(
            code=ErrorCode.EVALUATION_ERROR,
            message="Variable or expression expected",
            details=ErrorDetails(error_class="SyntaxErrorNotification", position=4),
        ),
        13,
        KEY,
    ),
    (
        "error protocol version",
        Error(
            code=ErrorCode.PROTOCOL_VERSION, message="no common protocol version: image speaks [1]"
        ),
        1,
        b"",
    ),
    ("inspect expression", Inspect(session_id="s-1", expression="Smalltalk"), 14, b""),
    ("inspect handle", Inspect(session_id="s-1", handle=17, depth=2), 15, b""),
    (
        "inspection",
        Inspection(
            class_name="OrderedCollection",
            print_string="an OrderedCollection(1 2 3)",
            handle=17,
            named=(
                Slot(name="firstIndex", print_string="1", class_name="SmallInteger"),
                Slot(name="array", print_string="#(1 2 3 nil)", class_name="Array", handle=18),
            ),
            indexed=(Slot(name="1", print_string="1", class_name="SmallInteger"),),
            indexed_size=3,
        ),
        15,
        b"",
    ),
    ("complete", Complete(session_id="s-1", source="Transcript sh", cursor=13), 16, b""),
    (
        "completions",
        Completions(
            start=11,
            items=(
                CompletionItem(text="show:", kind="selector"),
                CompletionItem(text="showln:", kind="selector"),
            ),
        ),
        16,
        b"",
    ),
    ("system info", SystemInfo(), 17, b""),
    (
        "system info reply",
        SystemInfoReply(
            image_name="alpha",
            dialect="Pharo",
            dialect_version="12.0",
            uptime=3600.0,
            sessions=2,
            clients=1,
            metadata=(("vm", "Cog"),),
        ),
        17,
        b"",
    ),
    ("session expired", SessionExpired(session_id="s-2", reason="idle for 3600 s"), 0, b""),
    ("image shutdown", ImageShutdown(reason="snapshot and quit", restarting=True), 0, KEY),
    ("unicode text", Evaluate(session_id="s-1", source="'héllo ∑ 𝄞' size"), 18, b""),
    ("large id", Ping(timestamp=0.0), 2**63 - 1, b""),
    # The control union: CBOR-encodable, not yet carried on a wire.
    (
        "control connect image",
        ConnectImage(
            address="tcp://127.0.0.1:5555",
            name="alpha",
            key=b"\x01\x02",
            heartbeat_interval=1.0,
            heartbeat_misses=3,
        ),
        1,
        b"",
    ),
    ("control disconnect image", DisconnectImage(image_id="alpha"), 2, b""),
    (
        "control switch context",
        SwitchImageContext(from_image_id="alpha", to_image_id="beta"),
        3,
        b"",
    ),
    (
        "control switch context, none before",
        SwitchImageContext(from_image_id=None, to_image_id="beta", preserve_context=False),
        4,
        KEY,
    ),
    ("control cleanup", CleanupImageSessions(image_id="alpha", force=True), 5, b""),
    ("control list image sessions", ListImageSessions(), 6, b""),
    ("control session stats query", GetImageSessionStats(image_id="alpha"), 7, b""),
    ("control connection status query", GetImageConnectionStatus(image_id="alpha"), 8, b""),
    (
        "control image sessions",
        ImageSessions(
            sessions=(
                SessionRecord(
                    session_id="s-1",
                    image_id="img-7f3a",
                    name="main",
                    status=SessionStatus.DETACHED,
                ),
            )
        ),
        6,
        b"",
    ),
    (
        "control session stats",
        ImageSessionStats(
            image_id="img-7f3a",
            total=3,
            active=1,
            orphaned=1,
            context_bytes=2048,
            last_activity=1700000060.5,
        ),
        7,
        b"",
    ),
    (
        "control connection status",
        ImageConnectionStatus(
            image_id="img-7f3a",
            name="alpha",
            address="tcp://127.0.0.1:5555",
            status=ConnectionStatus.CONNECTED,
            health=ConnectionHealth.HEALTHY,
            rtt=0.0004,
            instance_id="inst-0001",
            since=1700000000.0,
            pending=2,
            restarts=0,
        ),
        8,
        b"",
    ),
    (
        "control cleanup report",
        CleanupReport(image_id="img-7f3a", closed=("s-2",), kept=("s-1",)),
        5,
        b"",
    ),
    (
        "control status changed",
        ImageStatusChanged(
            image_id="img-7f3a",
            name="alpha",
            old=ConnectionStatus.CONNECTED,
            new=ConnectionStatus.RECONNECTING,
            reason="heartbeat lost",
            at=1700000100.0,
        ),
        0,
        b"",
    ),
    (
        "control health changed",
        ImageHealthChanged(
            image_id="img-7f3a",
            name="alpha",
            old=ConnectionHealth.HEALTHY,
            new=ConnectionHealth.WARNING,
            rtt=None,
            at=1700000100.0,
        ),
        0,
        b"",
    ),
    (
        "control image restarted",
        ImageRestarted(
            image_id="img-7f3a",
            name="alpha",
            old_instance_id="inst-0001",
            new_instance_id="inst-0002",
            lost_sessions=("s-1",),
            at=1700000200.0,
        ),
        0,
        b"",
    ),
    (
        "control session orphaned",
        SessionOrphaned(
            image_id="img-7f3a", session_id="s-1", reason="image restarted", at=1700000200.0
        ),
        0,
        b"",
    ),
    (
        "control transcript received",
        TranscriptReceived(image_id="img-7f3a", session_id=None, text="x\n", at=1700000201.0),
        0,
        b"",
    ),
    (
        "control context switched",
        ContextSwitched(from_image_id=None, to_image_id="img-7f3a", at=1700000202.0),
        0,
        b"",
    ),
]


def _payload(type_: Any, id_: Any, body: Any) -> bytes:
    return cbor2.dumps({"type": type_, "id": id_, "body": body})


def _frame(payload: bytes, *, v: Any = 1, key: bytes = b"", sig: bytes | None = None) -> bytes:
    frame: dict[str, Any] = {"v": v, "msg": payload}
    if key:
        frame["sig"] = sign(key, payload)
    if sig is not None:
        frame["sig"] = sig
    return cbor2.dumps(frame)


_PING = _payload("Ping", 2, {"timestamp": 1.5})
# {"type": "Ping", "id": 2 (or 7), "body": {"timestamp": ... — the float is appended by hand.
_PING_PREFIX = bytes.fromhex("a364747970656450696e676269640264626f6479a16974696d657374616d70")
_PAYLOAD_PING_7_PREFIX = _PING_PREFIX.replace(b"bid\x02", b"bid\x07")

#: Frames written by another valid encoder: every receiver must accept them. (name, bytes, key, note)
FOREIGN: list[tuple[str, bytes, bytes, str]] = [
    (
        "float as half precision",
        _frame(_PING_PREFIX + bytes.fromhex("f93e00")),
        b"",
        "1.5 as a 16-bit float (f9): preferred serialization picks the shortest exact float",
    ),
    (
        "float as single precision",
        _frame(_PING_PREFIX + bytes.fromhex("fa3fc00000")),
        b"",
        "1.5 as a 32-bit float (fa)",
    ),
    (
        "integer for a float field",
        _frame(_payload("Ping", 2, {"timestamp": 2})),
        b"",
        "a float field accepts an integer of magnitude <= 2**53",
    ),
    (
        "keys in another order",
        cbor2.dumps({"msg": _payload("Ping", 2, {"timestamp": 1.5}), "v": 1}),
        b"",
        "map key order carries no meaning",
    ),
    (
        "payload keys in another order",
        _frame(cbor2.dumps({"body": {"timestamp": 1.5}, "id": 2, "type": "Ping"})),
        b"",
        "map key order carries no meaning",
    ),
    (
        "defaults omitted",
        _frame(_payload("Evaluate", 7, {"session_id": "s-1", "source": "3 + 4"})),
        b"",
        'fields with a default may be left out; mode becomes "display", time_budget null',
    ),
    (
        "explicit nulls",
        _frame(
            _payload("Evaluate", 7, {"session_id": "s-1", "source": "3 + 4", "time_budget": None})
        ),
        b"",
        "an optional field may be sent as null",
    ),
    (
        "signed, sig first",
        cbor2.dumps({"sig": sign(KEY, _PING), "v": 1, "msg": _PING}),
        KEY,
        "the signature covers the msg bytes only, wherever sig sits in the frame",
    ),
]

#: Frames every receiver must refuse. (name, bytes, key, error kind, recovered request id, note)
INVALID: list[tuple[str, bytes, bytes, str, int | None, str]] = [
    (
        "not CBOR",
        bytes.fromhex("1c"),
        b"",
        "RemoteProtocolError",
        None,
        "reserved additional information",
    ),
    ("truncated", _frame(_PING)[:-2], b"", "RemoteProtocolError", None, "frame cut short"),
    (
        "trailing bytes",
        _frame(_PING) + b"\xf6",
        b"",
        "RemoteProtocolError",
        None,
        "a frame is exactly one CBOR item",
    ),
    (
        "indefinite-length map",
        bytes.fromhex("bf617601636d736740ff"),
        b"",
        "RemoteProtocolError",
        None,
        "indefinite lengths are not allowed",
    ),
    (
        "duplicate key",
        bytes.fromhex("a3617601617601636d736740"),
        b"",
        "RemoteProtocolError",
        None,
        "duplicate map keys are not allowed",
    ),
    (
        "tag",
        _frame(_payload("Ping", 2, {"timestamp": cbor2.CBORTag(1, 0)})),
        b"",
        "RemoteProtocolError",
        None,
        "no tags anywhere (here tag 1, epoch time)",
    ),
    (
        "deep nesting",
        _frame(b"\x81" * 17 + b"\x00"),
        b"",
        "RemoteProtocolError",
        None,
        "containers nested deeper than 16",
    ),
    (
        "huge declared length",
        bytes.fromhex("a2617601636d73675b7fffffffffffffff"),
        b"",
        "RemoteProtocolError",
        None,
        "a byte string claiming 2**63-1 bytes",
    ),
    ("wrong version", _frame(_PING, v=2), b"", "RemoteProtocolError", 2, "only version 1 exists"),
    (
        "unknown type",
        _frame(_payload("Frobnicate", 3, {})),
        b"",
        "RemoteProtocolError",
        3,
        "unknown message type",
    ),
    (
        "unknown field",
        _frame(_payload("Ping", 4, {"timestamp": 1.5, "tz": "UTC"})),
        b"",
        "RemoteProtocolError",
        4,
        "unknown body keys are refused",
    ),
    (
        "missing field",
        _frame(_payload("Ping", 5, {})),
        b"",
        "RemoteProtocolError",
        5,
        "timestamp is required",
    ),
    (
        "wrong field type",
        _frame(_payload("Interrupt", 6, {"target_id": "10"})),
        b"",
        "RemoteProtocolError",
        6,
        "target_id must be an integer",
    ),
    (
        "NaN",
        _frame(_PAYLOAD_PING_7_PREFIX + bytes.fromhex("f97e00")),
        b"",
        "RemoteProtocolError",
        7,
        "floats must be finite (here a half-precision NaN)",
    ),
    (
        "bad enum value",
        _frame(_payload("Evaluate", 8, {"session_id": "s-1", "source": "1", "mode": "print"})),
        b"",
        "RemoteProtocolError",
        8,
        'mode is "execute" or "display"',
    ),
    (
        "unsigned where a key is configured",
        _frame(_PING),
        KEY,
        "SignatureError",
        2,
        "the receiver has a key, the frame has no sig",
    ),
    (
        "wrong key",
        _frame(_PING, key=b"another key"),
        KEY,
        "SignatureError",
        2,
        "signed with another key",
    ),
    (
        "payload altered after signing",
        _frame(_payload("Ping", 2, {"timestamp": 2.5}), sig=sign(KEY, _PING)),
        KEY,
        "SignatureError",
        2,
        "sig does not match msg (timestamp changed after signing)",
    ),
    (
        "signature of wrong length",
        _frame(_PING, sig=b"\x00" * 31),
        b"",
        "RemoteProtocolError",
        2,
        "sig must be 32 bytes",
    ),
]


# --------------------------------------------------------------------------------------------------


def _json(value: Any) -> Any:
    match value:
        case bytes():
            return {"$hex": value.hex()}
        case list():
            return [_json(v) for v in value]
        case dict():
            return {k: _json(v) for k, v in value.items()}
        case _:
            return value


def diag(value: Any) -> str:
    """CBOR diagnostic notation (RFC 8949 §8, with RFC 8610's <<...>> for embedded CBOR in "msg")."""
    match value:
        case None:
            return "null"
        case bool():
            return "true" if value else "false"
        case int():
            return str(value)
        case float():
            if math.isnan(value):
                return "NaN"
            if math.isinf(value):
                return "Infinity" if value > 0 else "-Infinity"
            r = repr(value)
            return r if "." in r or "e" not in r else r.replace("e", ".0e")
        case str():
            return json.dumps(value, ensure_ascii=False)
        case bytes():
            return f"h'{value.hex()}'"
        case list():
            return "[" + ", ".join(diag(v) for v in value) + "]"
        case dict():
            parts = []
            for k, v in value.items():
                if k == "msg" and type(v) is bytes:
                    try:
                        parts.append(f'"msg": <<{diag(cbor2.loads(v))}>>')
                        continue
                    except Exception:
                        pass
                parts.append(f"{diag(k)}: {diag(v)}")
            return "{" + ", ".join(parts) + "}"
        case cbor2.CBORTag():
            return f"{value.tag}({diag(value.value)})"
        case _:
            return repr(value)


def _diag_bytes(data: bytes) -> str | None:
    try:
        decoder_value = cbor2.loads(data)
    except Exception:
        return None
    return diag(decoder_value)


def _body(message: Any) -> Any:
    return _json(cbor2.loads(cbor2.loads(encode(message))["msg"])["body"])


def build() -> list[dict[str, Any]]:
    """All vectors, in file order."""
    out: list[dict[str, Any]] = []
    for name, message, request_id, key in MESSAGES:
        raw = encode(message, request_id=request_id, key=key)
        out.append(
            {
                "name": name,
                "expect": "ok",
                "exact": True,
                "type": type(message).__name__,
                "body": _body(message),
                "request_id": request_id,
                "key": key.hex() or None,
                "hex": raw.hex(),
                "diag": diag(cbor2.loads(raw)),
                "note": "",
            }
        )
    for name, raw, key, note in FOREIGN:
        frame = decode(raw, key=key)
        out.append(
            {
                "name": name,
                "expect": "ok",
                "exact": False,
                "type": type(frame.message).__name__,
                "body": _body(frame.message),
                "request_id": frame.request_id,
                "key": key.hex() or None,
                "hex": raw.hex(),
                "diag": _diag_bytes(raw),
                "note": note,
            }
        )
    for name, raw, key, kind, request_id, note in INVALID:
        try:
            decode(raw, key=key)
        except ProtocolError as e:
            assert type(e).__name__ == kind and e.request_id == request_id, (name, e, e.request_id)
        else:  # pragma: no cover - a broken vector table
            raise AssertionError(f"invalid vector {name!r} decodes")
        out.append(
            {
                "name": name,
                "expect": kind,
                "exact": False,
                "type": None,
                "body": None,
                "request_id": request_id,
                "key": key.hex() or None,
                "hex": raw.hex(),
                "diag": _diag_bytes(raw),
                "note": note,
            }
        )
    return out


def render() -> str:
    return json.dumps(build(), indent=1, ensure_ascii=False) + "\n"


def main() -> None:
    PATH.write_text(render(), encoding="utf-8")
    print(f"wrote {len(build())} vectors to {PATH}")


if __name__ == "__main__":
    main()
