"""qinglang's addons as one mitmproxy addon: one dispatch per event, every flow hook guarded.

mitmproxy calls every addon for every event: for each one it walks the addon and its
children, looks the hook up, and (for an addon of its own chain) opens an error context
and a coroutine, whether or not the addon has the hook. With qinglang's eleven addons that
walk cost more than most of the hooks themselves (measured in process for an image
request: qinglang's share 210 -> 130 us as a script's addons, 295 -> 160 us under
`qinglang run`, where each addon stood in mitmproxy's chain on its own; with the sync
hooks below, mitmdump's CPU per request 1.52 -> 1.33 ms, docs/benchmarks.md). ``AddonChain``
is the one object mitmproxy sees: it defines only the hooks its members have, and calls
them in the members' order from a list made once.

Flow hooks run under ``guard.Guard``: when one raises, ``Guard.fail`` stops what it was
handling (the block page, a killed flow...) and the next member's hook still runs, as
mitmproxy would run the next addon. Lifecycle hooks (``load``, ``configure``,
``running``, ``done``...) are not guarded: their errors reach mitmproxy, so a wrong option
still stops start-up. A hook may be sync, async, or sync returning an awaitable (as
mitmproxy allows); the chain stays sync until a member hands it something to await.

mitmproxy's ``addons.get(name)`` finds the chain (``qinglang``), not its members: they
hold references to each other where they need one (``addon.chain``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from mitmproxy import hooks

from qinglang.proxy.guard import LIFECYCLE, Guard

Call = tuple[str, Callable[..., Any]]  # ("Member.hook", the member's bound hook)


def members(addons: Iterable[object]) -> Iterator[object]:
    """Each addon, then the addons it holds in ``addons``: mitmproxy's order."""
    for a in addons:
        yield a
        nested = getattr(a, "addons", None)
        if isinstance(nested, list | tuple):
            yield from members(nested)


def holds(addon: object, member: object) -> bool:
    """Whether ``member`` is ``addon``, one of its children, or a member of a chain there
    (where mitmproxy's own ``traverse`` does not look)."""
    return any(
        a is member or any(m is member for m in getattr(a, "members", ())) for a in members([addon])
    )


class AddonChain:
    """Built once; the hooks it defines are attributes set per instance."""

    name = "qinglang"

    def __init__(self, addons: Iterable[object], guard: Guard) -> None:
        self.members: tuple[object, ...] = tuple(members(addons))
        self.guard = guard
        self.calls: dict[str, tuple[Call, ...]] = {}
        for hook in hooks.all_hooks:
            calls = tuple(
                (f"{type(m).__name__}.{hook}", fn)
                for m in self.members
                if callable(fn := getattr(m, hook, None))
            )
            if not calls:
                continue  # mitmproxy finds no such hook here and moves on
            self.calls[hook] = calls
            setattr(self, hook, _runner(hook, calls, None if hook in LIFECYCLE else guard))


def _runner(hook: str, calls: tuple[Call, ...], guard: Guard | None) -> Callable[..., Any]:
    """One hook of every member, in order; sync until a member hands back something to
    await. ``guard``: where a flow hook's error goes (None, a lifecycle hook: it reaches
    mitmproxy)."""

    def failed(where: str, args: tuple[Any, ...], e: Exception) -> None:
        if guard is None:
            raise e
        guard.fail(where, hook, args, e)

    def run(*args: Any) -> Any:
        for i, (where, fn) in enumerate(calls):
            try:
                res = fn(*args)
            except Exception as e:
                failed(where, args, e)
                continue
            if res is not None and inspect.isawaitable(res):
                return _rest(i, res, args)  # e.g. Qinglang.request, when it scans
        return None

    async def _rest(i: int, res: Any, args: tuple[Any, ...]) -> None:
        try:
            await res
        except Exception as e:
            failed(calls[i][0], args, e)
        for where, fn in calls[i + 1 :]:
            try:
                res = fn(*args)
                if res is not None and inspect.isawaitable(res):
                    await res
            except Exception as e:
                failed(where, args, e)

    return run
