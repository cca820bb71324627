"""Python's cyclic garbage collector held off around code that builds many objects, and
kept off what a server process loads once.

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


def freeze_loaded() -> int:
    """Load every view module (the URLconf imports them), collect, then move every object
    alive into the collector's permanent generation (`gc.freeze`): a full collection
    then traverses only what requests made since, not the modules, classes and caches of
    Django, DRF, matplotlib and this project, which no collection frees anyway. Such a
    collection cost about 50 ms (with the GIL held, so every thread of the process
    waited), once every few requests that build many objects: a year's trend by day
    took 55 ms, and 110 ms every third time. For a server worker once it has loaded its
    app (gunicorn.conf.py's post_worker_init), this project's or another (the bench's
    plain WSGI hello: no URLconf then). Returns the number of objects frozen."""
    from django.apps import apps
    from django.urls import get_resolver

    if apps.ready:
        get_resolver().url_patterns  # noqa: B018 - the property imports every view module
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
