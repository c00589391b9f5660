"""Date, Time and DateAndTime: the clock, read-only (this is not I/O), and their Pharo printStrings.

``Date today`` prints as ``21 November 2026``, ``Time now`` as ``10:30:15 am``, ``DateAndTime now`` in
ISO 8601 with the local offset. ``Time millisecondsToRun: [...]`` and ``Time millisecondClockValue``
are there for timing code at the prompt. Each value holds a Python ``datetime`` in its payload.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING, Any

from stui.image.smalltalk.library import primitive
from stui.image.smalltalk.objects import Block, Obj, StClass, StString

if TYPE_CHECKING:
    from stui.image.smalltalk.runtime import VM

__all__ = ("time_print",)

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def time_print(obj: Obj) -> str:
    """The printString of a Date, Time or DateAndTime object."""
    moment: dt.datetime = obj.data
    match obj.cls.builtin_name:
        case "Date":
            return f"{moment.day} {_MONTHS[moment.month - 1]} {moment.year}"
        case "Time":
            hour = moment.hour % 12 or 12
            suffix = "am" if moment.hour < 12 else "pm"
            return f"{hour}:{moment.minute:02d}:{moment.second:02d} {suffix}"
        case _:
            return moment.isoformat()


def _now() -> dt.datetime:
    return dt.datetime.now().astimezone()


def _make(cls: StClass, moment: dt.datetime) -> Obj:
    return Obj(cls, [], moment)


@primitive("Date class", "today")
def _today(vm: VM, cls: StClass) -> Obj:
    return _make(cls, _now().replace(hour=0, minute=0, second=0, microsecond=0))


@primitive("Date class", "year:month:day:")
def _date_ymd(vm: VM, cls: StClass, year: int, month: int, day: int) -> Any:
    try:
        return _make(cls, dt.datetime(year, month, day).astimezone())
    except (ValueError, TypeError) as err:
        return vm.signal_error("Error", f"invalid date: {err}")


@primitive("Time class", "now")
@primitive("DateAndTime class", "now")
def _now_of(vm: VM, cls: StClass) -> Obj:
    return _make(cls, _now())


@primitive("Time class", "millisecondClockValue", "millisecondClock")
def _millisecond_clock(vm: VM, cls: StClass) -> int:
    return int(time.monotonic() * 1000)


@primitive("Time class", "millisecondsToRun:")
def _milliseconds_to_run(vm: VM, cls: StClass, block: Block) -> int:
    started = time.perf_counter()
    block.call()
    return int((time.perf_counter() - started) * 1000)


@primitive("Date", "year")
@primitive("DateAndTime", "year")
def _year(vm: VM, rcv: Obj) -> int:
    return int(rcv.data.year)


@primitive("Date", "monthIndex", "month")
@primitive("DateAndTime", "monthIndex", "month")
def _month(vm: VM, rcv: Obj) -> int:
    return int(rcv.data.month)


@primitive("Date", "monthName")
def _month_name(vm: VM, rcv: Obj) -> str:
    return _MONTHS[rcv.data.month - 1]


@primitive("Date", "dayOfMonth", "day")
@primitive("DateAndTime", "dayOfMonth", "day")
def _day(vm: VM, rcv: Obj) -> int:
    return int(rcv.data.day)


@primitive("Date", "dayOfWeekName")
def _day_name(vm: VM, rcv: Obj) -> str:
    return _DAYS[rcv.data.weekday()]


@primitive("Time", "hour", "hours")
@primitive("DateAndTime", "hour", "hours")
def _hour(vm: VM, rcv: Obj) -> int:
    return int(rcv.data.hour)


@primitive("Time", "minute", "minutes")
@primitive("DateAndTime", "minute", "minutes")
def _minute(vm: VM, rcv: Obj) -> int:
    return int(rcv.data.minute)


@primitive("Time", "second", "seconds")
@primitive("DateAndTime", "second", "seconds")
def _second(vm: VM, rcv: Obj) -> int:
    return int(rcv.data.second)


@primitive("Time", "asSeconds")
def _as_seconds(vm: VM, rcv: Obj) -> int:
    moment = rcv.data
    return int(moment.hour * 3600 + moment.minute * 60 + moment.second)


@primitive("Date", "-")
def _date_minus(vm: VM, rcv: Obj, other: Any) -> Any:
    if type(other) is Obj and other.cls.builtin_name == "Date":
        return int((rcv.data - other.data).days)
    return vm.dnu(other, "asDate", ())


@primitive("Date", "addDays:")
def _add_days(vm: VM, rcv: Obj, days: int) -> Obj:
    return _make(rcv.cls, rcv.data + dt.timedelta(days=days))


@primitive("Date", "=")
@primitive("Time", "=")
@primitive("DateAndTime", "=")
def _moment_equal(vm: VM, rcv: Obj, other: Any) -> bool:
    return type(other) is Obj and other.cls is rcv.cls and other.data == rcv.data


@primitive("Date", "<")
@primitive("Time", "<")
@primitive("DateAndTime", "<")
def _moment_less(vm: VM, rcv: Obj, other: Any) -> Any:
    if type(other) is Obj and other.cls is rcv.cls:
        return bool(rcv.data < other.data)
    return vm.dnu(other, "asDateAndTime", ())


@primitive("Date", "printString", "displayString")
@primitive("Time", "printString", "displayString")
@primitive("DateAndTime", "printString", "displayString")
def _moment_print_string(vm: VM, rcv: Obj) -> StString:
    return StString(time_print(rcv))
