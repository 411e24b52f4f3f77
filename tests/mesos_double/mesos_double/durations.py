"""stout Duration parsing and formatting (e.g. '10secs', '1mins', '100ms')."""

_UNITS = [
    ("weeks", 7 * 24 * 3600.0),
    ("days", 24 * 3600.0),
    ("hrs", 3600.0),
    ("mins", 60.0),
    ("secs", 1.0),
    ("ms", 1e-3),
    ("us", 1e-6),
    ("ns", 1e-9),
]
_BY_NAME = dict(_UNITS)


class DurationError(ValueError):
    pass


def parse(text):
    """Return seconds (float).  Mirrors stout's Duration::parse."""
    s = text
    for index, ch in enumerate(s):
        if ch.isdigit() and ch.isascii() or ch == ".":
            continue
        number = s[:index]
        try:
            value = float(number)
        except ValueError:
            raise DurationError("Failed to convert '%s' to number" % number)
        unit = s[index:]
        if unit not in _BY_NAME:
            raise DurationError("Unknown duration unit '%s'" % unit)
        return value * _BY_NAME[unit]
    raise DurationError("Invalid duration '%s'" % s)


def _num(value):
    # std::ostream with precision digits10 (15): like '%.15g'
    return "%.15g" % value


def format(seconds):  # noqa: A001 - mirrors stringify(Duration)
    """Format like stout's operator<<(Duration): largest unit <= value."""
    prefix = ""
    if seconds < 0:
        prefix = "-"
        seconds = -seconds
    # work in integral nanoseconds like stout
    ns = int(round(seconds * 1e9))
    for unit, factor in _UNITS:
        fns = int(round(factor * 1e9))
        if ns >= fns or unit == "ns":
            return prefix + _num(ns / fns) + unit
    return prefix + "0ns"  # pragma: no cover
