"""`tfops` and `python -m tfops`: the command line, in a process set up for a short run.

Garbage collection is what a run can do without: starting up allocates tens of thousands
of objects that live until the end (modules, classes, functions), and with Python's
default thresholds the collector walks them again and again (~30 collections, 5-10 ms of a
`tfops plan`), then once more as the interpreter exits. Collections still happen, every
20,000 allocations instead of 700, so a `tfops watch` running for days keeps its memory;
at exit the objects are frozen (`gc.freeze`), which leaves the final collection nothing
to walk.
"""

import atexit
import gc


def settle_process() -> None:
    """The garbage collector's settings for a tfops process (see above)."""
    gc.set_threshold(20_000, 10, 10)
    atexit.register(gc.freeze)  # registered first, so it runs last


def main() -> None:
    settle_process()
    from tfops.cli import main as cli

    cli()


if __name__ == "__main__":
    main()
