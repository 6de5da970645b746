"""What the format tests share: a sink that keeps everything, and exact percentiles."""

import math


class Collect:
    """A parser's sink that keeps every call, skip and unparsed line."""

    def __init__(self) -> None:
        self.calls = []
        self.skipped = 0
        self.bad = []
        self.bad_values = []

    def call(self, call) -> None:
        self.calls.append(call)

    def skip(self) -> None:
        self.skipped += 1

    def unparsed(self, reason, text) -> None:
        self.bad.append((reason, text))

    def bad_value(self, field, value) -> None:
        self.bad_values.append((field, value))


def parse_with(module, lines, *, options=None, now=0.0, one_by_one=False) -> Collect:
    """Feed `lines` to a fresh parser of the format `module`, then flush it."""
    sink = Collect()
    parser = module.PARSER(sink, "test", options if options is not None else {}, lambda: now)
    if one_by_one:
        for line in lines:
            parser.feed(line)
    else:
        parser.feed_many(list(lines))
    parser.flush()
    return sink


def nearest_rank(values, q):
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]
