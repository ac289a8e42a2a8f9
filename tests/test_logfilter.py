"""`RepeatFilter`: identical log lines within a window are dropped and counted, not lost."""

from __future__ import annotations

import io
import logging

from tagpilot.logfilter import RepeatFilter, collapse_repeats


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make_logger(window: float = 10.0, **kwargs: object) -> tuple[logging.Logger, io.StringIO, Clock]:
    clock = Clock()
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(RepeatFilter(window, clock=clock, **kwargs))  # type: ignore[arg-type]
    logger = logging.getLogger(f"tagpilot.test.repeat.{id(out)}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, out, clock


def test_identical_lines_collapse_and_are_counted() -> None:
    logger, out, clock = make_logger()
    for _ in range(10_000):
        logger.error("socket.accept() out of system resource")
    logger.error("something else")
    logger.warning("socket.accept() out of system resource")  # another level: another line
    assert out.getvalue().splitlines() == ["socket.accept() out of system resource", "something else",
                                           "socket.accept() out of system resource"]
    clock.now = 10.5
    logger.error("socket.accept() out of system resource")
    assert out.getvalue().splitlines()[-1] == ("socket.accept() out of system resource"
                                               " (repeated 9999 times since last shown)")
    logger.error("socket.accept() out of system resource")  # within the new window: dropped again
    assert len(out.getvalue().splitlines()) == 4


def test_messages_differing_in_arguments_are_distinct() -> None:
    logger, out, _clock = make_logger()
    logger.info("reconciled %s", "a")
    logger.info("reconciled %s", "b")
    logger.info("reconciled %s", "a")
    assert out.getvalue().splitlines() == ["reconciled a", "reconciled b"]


def test_memory_is_bounded() -> None:
    logger, out, _clock = make_logger(max_tracked=8)
    for n in range(1000):
        logger.info("line %d", n)
    logger.info("line 0")  # forgotten long ago: shown again
    assert len(out.getvalue().splitlines()) == 1001


def test_collapse_repeats_installs_on_every_handler() -> None:
    logger = logging.getLogger("tagpilot.test.repeat.install")
    logger.handlers[:] = [logging.StreamHandler(io.StringIO()), logging.StreamHandler(io.StringIO())]
    repeat = collapse_repeats(logger=logger)
    assert all(repeat in handler.filters for handler in logger.handlers)
