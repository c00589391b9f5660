"""stui.config: packaged defaults, merging the user's file, and a typed error for every bad file."""

from __future__ import annotations

from pathlib import Path

import pytest

from stui.config import (
    ConfigError,
    ReplConfig,
    StoreConfig,
    load_config,
    parse_config,
    read_key_file,
    transport_for_address,
)


@pytest.fixture(autouse=True)
def _config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "config"
    monkeypatch.setenv("STUI_CONFIG_DIR", str(home))
    return home


def write(tmp_path: Path, text: str | bytes, name: str = "c.toml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def test_defaults_alone_start_two_local_images() -> None:
    config = load_config()
    assert config.source is None
    assert config.images == ()
    assert config.repl.local_images == ("alpha", "beta")
    assert config.repl.complete_timeout == 0.5
    assert config.store.enabled and config.store.path is None


def test_the_packaged_file_and_the_dataclass_defaults_agree() -> None:
    """default_config.toml documents the defaults and ReplConfig/StoreConfig hold them: one must not
    drift from the other, and a table without the keys gets the same values."""
    assert load_config().repl == ReplConfig()
    assert load_config().store == StoreConfig()
    assert parse_config({}, None).repl == ReplConfig()


def test_user_file_in_config_dir_is_found(_config_home: Path) -> None:
    _config_home.mkdir()
    (_config_home / "config.toml").write_text('[repl]\ndefault_image = "beta"\n')
    config = load_config()
    assert config.source == _config_home / "config.toml"
    assert config.repl.default_image == "beta"
    # keys the user left out keep their defaults
    assert config.repl.local_images == ("alpha", "beta")


def test_images_are_parsed_with_defaults_and_relative_key_paths(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[[images]]
name = "pharo"
address = "tcp://127.0.0.1:5555"
key_file = "keys/pharo.key"
heartbeat_interval = 0.5

[[images]]
name = "web"
address = "ws://127.0.0.1:8080/stui"
auto_connect = false
heartbeat_misses = 5
""",
    )
    config = load_config(path)
    pharo, web = config.images
    assert pharo.transport == "zmq" and pharo.key_file == tmp_path / "keys/pharo.key"
    assert pharo.heartbeat_interval == 0.5 and pharo.heartbeat_misses == 3 and pharo.auto_connect
    assert web.transport == "websocket" and web.key_file is None
    assert not web.auto_connect and web.heartbeat_misses == 5
    assert config.auto_connect_images == (pharo,)
    assert config.image("web") is web and config.image("nope") is None


def test_store_path_and_disable(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[store]\npath = "~/x.db"\nenabled = false\n'))
    assert config.store.path == Path("~/x.db").expanduser()
    assert not config.store.enabled


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[repl\n", "not valid TOML"),
        (b"\xff\xfe[repl]", "not UTF-8"),
        ("[repl]\nlocal_image = []\n", "unknown key [repl] 'local_image'"),
        ("colour = 1\n", "unknown key 'colour'"),
        ("repl = 3\n", "'repl' must be a table"),
        ('[repl]\neval_timeout = "soon"\n', "eval_timeout must be an int or float"),
        ("[repl]\neval_timeout = -1\n", "eval_timeout must be >= 0"),
        ("[repl]\ncomplete_timeout = 0\n", "complete_timeout must be > 0"),
        ("[repl]\ncomplete_timeout = nan\n", "complete_timeout must be > 0"),
        ("[repl]\nhistory_limit = true\n", "history_limit must be an int"),
        ("[repl]\nhistory_limit = -5\n", "history_limit must be >= 0"),
        ('[repl]\nediting_mode = "nano"\n', "editing_mode must be"),
        ("[repl]\nlocal_images = [1]\n", "must list names"),
        ('[repl]\nlocal_images = ["a b"]\n', "must be 1-64 letters"),
        ('[repl]\nlocal_images = ["a", "a"]\n', "names an image twice"),
        ('[repl]\ndefault_image = "x/y"\n', "default_image"),
        ("[store]\nenabled = 1\n", "enabled must be a bool"),
        ("images = 3\n", "array of tables"),
        ("images = [3]\n", "'images[0]' must be a table"),
        ('[[images]]\nname = "a"\n', "needs an 'address'"),
        ('[[images]]\naddress = "tcp://h:1"\n', "needs a 'name'"),
        ('[[images]]\nname = "a"\naddress = "h:1"\n', "has no scheme"),
        ('[[images]]\nname = "a"\naddress = "http://h:1"\n', "unknown scheme 'http'"),
        (
            '[[images]]\nname = "a"\naddress = "tcp://h:1"\ntransport = "websocket"\n',
            "does not match",
        ),
        ('[[images]]\nname = "a"\naddress = "tcp://h:1"\ntransport = "udp"\n', "transport must be"),
        (
            '[[images]]\nname = "a"\naddress = "tcp://h:1"\nheartbeat_misses = 0\n',
            "heartbeat_misses must be >= 1",
        ),
        (
            '[[images]]\nname = "a"\naddress = "tcp://h:1"\nheartbeat_interval = 0\n',
            "heartbeat_interval must be > 0",
        ),
        (
            '[[images]]\nname = "a"\naddress = "tcp://h:1"\nport = 1\n',
            "unknown key [images[0]] 'port'",
        ),
        (
            '[[images]]\nname = "a"\naddress = "tcp://h:1"\n[[images]]\nname = "a"\naddress = "tcp://h:2"\n',
            "two images are called 'a'",
        ),
        pytest.param("x = " + "[" * 2000 + "]" * 2000 + "\n", "nested too deeply", id="deep"),
    ],
)
def test_bad_files_give_one_clear_error(tmp_path: Path, text: str | bytes, fragment: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert fragment in message
    assert str(path) in message


def test_missing_and_oversized_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="larger than"):
        load_config(write(tmp_path, "# " + "x" * (1024 * 1024 + 10)))
    with pytest.raises(ConfigError, match="config file"):
        load_config(tmp_path)  # a directory


def test_transport_for_address() -> None:
    assert transport_for_address("ipc:///tmp/x") == "zmq"
    assert transport_for_address("WSS://host/stui") == "websocket"
    with pytest.raises(ConfigError):
        transport_for_address("tcp://")


def test_read_key_file_hex_raw_and_errors(tmp_path: Path) -> None:
    assert read_key_file(write(tmp_path, "00ff10\n", "hex.key")) == b"00ff10"
    assert read_key_file(write(tmp_path, " secret words \n", "raw.key")) == b"secret words"
    with pytest.raises(ConfigError, match="is empty"):
        read_key_file(write(tmp_path, "  \n", "empty.key"))
    with pytest.raises(ConfigError, match="too large"):
        read_key_file(write(tmp_path, "a" * 5000, "big.key"))
    with pytest.raises(ConfigError, match="key file"):
        read_key_file(tmp_path / "missing.key")


def test_a_missing_key_file_names_its_image(tmp_path: Path) -> None:
    from stui.repl.main import configured_targets

    path = write(
        tmp_path,
        '[[images]]\nname = "pharo"\naddress = "tcp://127.0.0.1:5555"\n'
        f'key_file = "{tmp_path / "missing.key"}"\n',
    )
    with pytest.raises(ConfigError, match=r"^\[images\.pharo\] key_file: key file .*missing\.key"):
        configured_targets(load_config(path))
