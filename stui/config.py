"""stui's configuration: a packaged default TOML file with the user's file merged on top of it.

The litecli habit: the defaults live in the package (`stui/default_config.toml`, which doubles as the
documented example), the user's file only says what differs, and every value is checked before anything
runs. A config file is untrusted text: whatever is wrong with it — not UTF-8, not TOML, a misspelt key, a
string where a number belongs, an address with an unknown scheme — ends as one `ConfigError` naming the
file and the place, never as a traceback.

Where the user's file comes from: `--config FILE` when given (it must exist), else `config.toml` in
`stui.paths.config_dir()` when that exists, else nothing (the defaults alone: two local images).
"""

from __future__ import annotations

import importlib.resources
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stui.paths import config_dir

__all__ = [
    "MAX_CONFIG_BYTES",
    "Config",
    "ConfigError",
    "ImageConfig",
    "ReplConfig",
    "StoreConfig",
    "default_config_path",
    "load_config",
    "parse_config",
    "read_key_file",
    "transport_for_address",
]

#: A config file larger than this is refused (it is a hand-written file, not data).
MAX_CONFIG_BYTES = 1024 * 1024
#: A key file larger than this is refused.
MAX_KEY_BYTES = 4096

_TRANSPORTS = {"tcp": "zmq", "ipc": "zmq", "inproc": "zmq", "ws": "websocket", "wss": "websocket"}


class ConfigError(Exception):
    """The configuration cannot be used. The message names the file and what is wrong, for a person."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageConfig:
    """One `[[images]]` entry.

    Attributes:
        name: the local name the prompt and the commands use.
        address: where the image listens (tcp://, ipc://, ws://, wss://).
        transport: "zmq" or "websocket", derived from the address scheme.
        key_file: file holding the HMAC key for signed frames, None for unsigned.
        heartbeat_interval: seconds between heartbeats.
        heartbeat_misses: heartbeats missed in a row before the link is declared lost.
        auto_connect: connect when stui starts.
    """

    name: str
    address: str
    transport: str
    key_file: Path | None = None
    heartbeat_interval: float = 1.0
    heartbeat_misses: int = 3
    auto_connect: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplConfig:
    """The `[repl]` table; see default_config.toml for what each key does."""

    local_images: tuple[str, ...] = ("alpha", "beta")
    default_image: str = ""
    eval_timeout: float = 0.0
    complete_timeout: float = 0.5
    history_limit: int = 1000
    toolbar: bool = True
    editing_mode: str = "emacs"


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreConfig:
    """The `[store]` table. `path` None means the default location in the data directory."""

    path: Path | None = None
    enabled: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """The whole configuration. `source` is the user file that was merged in, None for defaults only."""

    repl: ReplConfig = ReplConfig()
    store: StoreConfig = StoreConfig()
    images: tuple[ImageConfig, ...] = ()
    source: Path | None = None

    def image(self, name: str) -> ImageConfig | None:
        """The configured image called `name`, if any."""
        for image in self.images:
            if image.name == name:
                return image
        return None

    @property
    def auto_connect_images(self) -> tuple[ImageConfig, ...]:
        return tuple(image for image in self.images if image.auto_connect)


def default_config_path() -> Path:
    """Where the user's config file is looked for when `--config` is not given."""
    return config_dir() / "config.toml"


def transport_for_address(address: str) -> str:
    """The transport an address implies: "zmq" or "websocket".

    Raises:
        ConfigError: the address has no scheme or one stui does not speak.
    """
    scheme, sep, rest = address.partition("://")
    if not sep or not rest:
        raise ConfigError(
            f"address {address!r} has no scheme (expected tcp://, ipc://, ws://, wss://)"
        )
    try:
        return _TRANSPORTS[scheme.lower()]
    except KeyError:
        raise ConfigError(
            f"address {address!r}: unknown scheme {scheme!r} (expected tcp, ipc, inproc, ws, wss)"
        ) from None


def read_key_file(path: Path) -> bytes:
    """Read an HMAC key file the way `stui image serve --key-file` does: the stripped text is the key.

    Raises:
        ConfigError: the file cannot be read, is empty or is too large for a key.
    """
    try:
        data = path.expanduser().read_bytes()
    except OSError as exc:
        raise ConfigError(f"key file {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_KEY_BYTES:
        raise ConfigError(f"key file {path}: {len(data)} bytes is too large for a key")
    text = data.strip()
    if not text:
        raise ConfigError(f"key file {path} is empty")
    return text


def load_config(path: Path | None = None) -> Config:
    """Load the packaged defaults and merge the user's file over them.

    Args:
        path: the file given with `--config`; it must exist. None looks for `default_config_path()`
            and uses the defaults alone when there is none.

    Raises:
        ConfigError: the file is missing (when given), unreadable, or not a valid stui configuration.
    """
    defaults = _parse_toml(
        importlib.resources.files("stui").joinpath("default_config.toml").read_text("utf-8"),
        "the packaged default config",
    )
    if path is None:
        candidate = default_config_path()
        if not candidate.is_file():
            return parse_config(defaults, None)
        path = candidate
    user = _parse_toml(_read_config_text(path), str(path))
    return parse_config(_merge(defaults, user), path)


def parse_config(data: dict[str, Any], source: Path | None) -> Config:
    """Check a parsed TOML document (defaults already merged) and build a `Config`.

    Raises:
        ConfigError: unknown keys, wrong types, bad values, duplicate image names.
    """
    where = str(source) if source is not None else "the default config"
    _check_keys(data, {"repl", "store", "images"}, where, "")
    repl = _parse_repl(_table(data.get("repl", {}), where, "repl"), where)
    store = _parse_store(_table(data.get("store", {}), where, "store"), where, source)
    raw_images = data.get("images", [])
    if not isinstance(raw_images, list):
        raise ConfigError(f"{where}: 'images' must be an array of tables ([[images]])")
    images: list[ImageConfig] = []
    for index, raw in enumerate(raw_images):
        image = _parse_image(_table(raw, where, f"images[{index}]"), where, index, source)
        if any(existing.name == image.name for existing in images):
            raise ConfigError(f"{where}: two images are called {image.name!r}")
        images.append(image)
    return Config(repl=repl, store=store, images=tuple(images), source=source)


# --------------------------------------------------------------------------------------------------
# Reading and merging.


def _read_config_text(path: Path) -> str:
    try:
        with path.open("rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"config file {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"config file {path} is larger than {MAX_CONFIG_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {path} is not UTF-8 text (byte {exc.start})") from None


def _parse_toml(text: str, where: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where} is not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{where} is nested too deeply") from None


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Tables merge key by key; everything else (arrays included) is replaced by the user's value."""
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


# --------------------------------------------------------------------------------------------------
# Checking.


def _table(value: object, where: str, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: '{name}' must be a table")
    return value


def _check_keys(table: dict[str, Any], allowed: set[str], where: str, name: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        prefix = f"[{name}] " if name else ""
        raise ConfigError(
            f"{where}: unknown key {prefix}{unknown[0]!r} (known: {', '.join(sorted(allowed))})"
        )


def _get(
    table: dict[str, Any],
    key: str,
    kind: type | tuple[type, ...],
    default: Any,
    where: str,
    name: str,
) -> Any:
    value = table.get(key, default)
    kinds = kind if isinstance(kind, tuple) else (kind,)
    # bool is an int in Python; a config `true` where a number belongs is still a mistake.
    wrong_bool = isinstance(value, bool) and bool not in kinds
    if not isinstance(value, kinds) or wrong_bool:
        expected = " or ".join(k.__name__ for k in kinds)
        raise ConfigError(
            f"{where}: [{name}] {key} must be {_article(expected)} {expected}, got {type(value).__name__} {value!r}"
        )
    return value


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _number(
    table: dict[str, Any],
    key: str,
    default: float,
    where: str,
    name: str,
    *,
    minimum: float,
    strict: bool,
) -> float:
    value = float(_get(table, key, (int, float), default, where, name))
    if not math.isfinite(value) or value < minimum or (strict and value == minimum):
        relation = ">" if strict else ">="
        raise ConfigError(f"{where}: [{name}] {key} must be {relation} {minimum:g}, got {value!r}")
    return value


def _check_name(value: str, where: str, name: str, key: str) -> str:
    if not value or len(value) > 64 or not all(c.isalnum() or c in "-_." for c in value):
        raise ConfigError(
            f"{where}: [{name}] {key} {value!r} must be 1-64 letters, digits, '-', '_' or '.'"
        )
    return value


def _parse_repl(table: dict[str, Any], where: str) -> ReplConfig:
    _check_keys(
        table,
        {
            "local_images",
            "default_image",
            "eval_timeout",
            "complete_timeout",
            "history_limit",
            "toolbar",
            "editing_mode",
        },
        where,
        "repl",
    )
    # Defaults come from ReplConfig (the packaged default_config.toml spells out the same values and
    # is merged in first, so they matter only to a caller passing a table of its own).
    defaults = ReplConfig()
    local = _get(table, "local_images", list, list(defaults.local_images), where, "repl")
    for item in local:
        if not isinstance(item, str):
            raise ConfigError(
                f"{where}: [repl] local_images must list names (strings), got {item!r}"
            )
        _check_name(item, where, "repl", "local_images entry")
    if len(set(local)) != len(local):
        raise ConfigError(f"{where}: [repl] local_images names an image twice")
    default_image = _get(table, "default_image", str, defaults.default_image, where, "repl")
    if default_image:
        _check_name(default_image, where, "repl", "default_image")
    history_limit = _get(table, "history_limit", int, defaults.history_limit, where, "repl")
    if history_limit < 0:
        raise ConfigError(f"{where}: [repl] history_limit must be >= 0, got {history_limit}")
    editing_mode = _get(table, "editing_mode", str, defaults.editing_mode, where, "repl")
    if editing_mode not in ("emacs", "vi"):
        raise ConfigError(
            f'{where}: [repl] editing_mode must be "emacs" or "vi", got {editing_mode!r}'
        )
    return ReplConfig(
        local_images=tuple(local),
        default_image=default_image,
        eval_timeout=_number(
            table, "eval_timeout", defaults.eval_timeout, where, "repl", minimum=0.0, strict=False
        ),
        complete_timeout=_number(
            table,
            "complete_timeout",
            defaults.complete_timeout,
            where,
            "repl",
            minimum=0.0,
            strict=True,
        ),
        history_limit=history_limit,
        toolbar=_get(table, "toolbar", bool, defaults.toolbar, where, "repl"),
        editing_mode=editing_mode,
    )


def _resolve(path_text: str, source: Path | None) -> Path:
    """Relative paths in a config file are relative to the file's directory, `~` expands."""
    path = Path(path_text).expanduser()
    if not path.is_absolute() and source is not None:
        path = source.parent / path
    return path


def _parse_store(table: dict[str, Any], where: str, source: Path | None) -> StoreConfig:
    _check_keys(table, {"path", "enabled"}, where, "store")
    path_text = _get(table, "path", str, "", where, "store")
    return StoreConfig(
        path=_resolve(path_text, source) if path_text else None,
        enabled=_get(table, "enabled", bool, True, where, "store"),
    )


def _parse_image(table: dict[str, Any], where: str, index: int, source: Path | None) -> ImageConfig:
    label = f"images[{index}]"
    _check_keys(
        table,
        {
            "name",
            "address",
            "transport",
            "key_file",
            "heartbeat_interval",
            "heartbeat_misses",
            "auto_connect",
        },
        where,
        label,
    )
    for required in ("name", "address"):
        if required not in table:
            raise ConfigError(f"{where}: [{label}] needs {_article(required)} {required!r}")
    name = _check_name(_get(table, "name", str, "", where, label), where, label, "name")
    label = f"images.{name}"
    address = _get(table, "address", str, "", where, label)
    try:
        implied = transport_for_address(address)
    except ConfigError as exc:
        raise ConfigError(f"{where}: [{label}] {exc}") from None
    transport = _get(table, "transport", str, implied, where, label)
    if transport not in ("zmq", "websocket"):
        raise ConfigError(
            f'{where}: [{label}] transport must be "zmq" or "websocket", got {transport!r}'
        )
    if transport != implied:
        raise ConfigError(
            f"{where}: [{label}] transport {transport!r} does not match address {address!r} ({implied})"
        )
    key_text = _get(table, "key_file", str, "", where, label)
    misses = _get(table, "heartbeat_misses", int, 3, where, label)
    if misses < 1:
        raise ConfigError(f"{where}: [{label}] heartbeat_misses must be >= 1, got {misses}")
    return ImageConfig(
        name=name,
        address=address,
        transport=transport,
        key_file=_resolve(key_text, source) if key_text else None,
        heartbeat_interval=_number(
            table, "heartbeat_interval", 1.0, where, label, minimum=0.0, strict=True
        ),
        heartbeat_misses=misses,
        auto_connect=_get(table, "auto_connect", bool, True, where, label),
    )
