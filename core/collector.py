"""Python's cyclic garbage collector held off around code that builds many objects.

The collector runs whenever allocations outnumber deallocations by a threshold, and
its older generations are traversed whole: reading a few hundred thousand rows into
tuples and lists set it off again and again over everything already read. A funnel at
10 M logs (225 k rows into 48 k users' lists) spent a third of its grouping time in it.
Nothing built inside is cyclic garbage (plain tuples, lists and dicts, dropped whole),
so holding the collector off loses nothing; it runs again afterwards. What the block
built and still holds when it ends is traversed by the next collection (a funnel's
rows cost 270 ms so): free it inside the block.
"""

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collection_paused() -> Iterator[None]:
    """No cyclic garbage collection in the block (process-wide; reference counting goes
    on). Nested or concurrent blocks are harmless: only the one that found the collector
    on turns it back on, so at worst another thread's block ends with it on."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
