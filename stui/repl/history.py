"""Per-image command history backed by the session store, for Up/Down and Ctrl-R search.

prompt_toolkit asks a `History` for its strings once per prompt (asynchronously, through `load()`)
and hands it each accepted input (`store_string`). `StoreHistory` answers `load()` from the session
store's history of *one image* (its stable image_id), so each image has its own history that survives
restarts and crashes, and switching images switches history. Writing goes through a callback: the image
actor already writes every evaluation to the store before sending it ("history written on every
command"), so the REPL only writes what the actor never sees (its own `:commands`). Without a store the
history lives in memory for the run.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable

from prompt_toolkit.history import History

__all__ = ["StoreHistory"]


class StoreHistory(History):
    """The history of one image.

    Args:
        load: `await load()` → the image's entries, oldest first; None for an in-memory history.
            A failure to load (store closed, image unknown to the store) leaves the history empty.
        save: called with each accepted input; None to keep it in memory only.
    """

    def __init__(
        self,
        load: Callable[[], Awaitable[list[str]]] | None = None,
        save: Callable[[str], object] | None = None,
    ) -> None:
        super().__init__()
        self._load = load
        self._save = save
        self.load_error: Exception | None = None

    async def load(self) -> AsyncGenerator[str, None]:
        if not self._loaded:
            entries: list[str] = []
            if self._load is not None:
                try:
                    entries = await self._load()
                except Exception as exc:  # history is a convenience: never fail the prompt over it
                    self.load_error = exc
            # entries typed while the load was in flight (append_string) stay on top
            self._loaded_strings = [*self._loaded_strings, *_newest_first(entries)]
            self._loaded = True
        for item in self._loaded_strings:
            yield item

    def load_history_strings(self) -> Iterable[str]:
        return []  # load() is overridden; nothing is read synchronously

    def store_string(self, string: str) -> None:
        if self._save is not None:
            self._save(string)


def _newest_first(entries: list[str]) -> list[str]:
    """Newest first, consecutive repeats collapsed (as shells do)."""
    out: list[str] = []
    for entry in reversed(entries):
        if not out or out[-1] != entry:
            out.append(entry)
    return out
