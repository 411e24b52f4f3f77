"""glog-like logging to stderr (and <log_dir>/<prog>.INFO when --log_dir is set)."""

import os
import sys
import threading
import time

_LEVELS = {"INFO": 0, "WARNING": 1, "ERROR": 2, "FATAL": 3}
_lock = threading.Lock()
_state = {"min": 0, "quiet": False, "file": None}


def configure(logging_level="INFO", quiet=False, log_dir=None, program="mesos-master"):
    _state["min"] = _LEVELS.get(str(logging_level).upper(), 0)
    _state["quiet"] = bool(quiet)
    if log_dir:
        try:
            os.makedirs(log_dir, exist_ok=True)
            _state["file"] = open(os.path.join(log_dir, program + ".INFO"), "a", encoding="utf-8")
        except OSError as exc:
            log("W", "logging.cpp", 180, "Failed to open log file in %s: %s" % (log_dir, exc))


def _line(sev, where, lineno, msg):
    now = time.time()
    lt = time.localtime(now)
    usec = int((now - int(now)) * 1e6)
    return "%s%02d%02d %02d:%02d:%02d.%06d %5d %s:%d] %s\n" % (
        sev, lt.tm_mon, lt.tm_mday, lt.tm_hour, lt.tm_min, lt.tm_sec, usec,
        threading.get_native_id() if hasattr(threading, "get_native_id") else os.getpid(),
        where, lineno, msg)


def log(sev, where, lineno, msg):
    """sev is one of I, W, E, F."""
    level = {"I": 0, "W": 1, "E": 2, "F": 3}[sev]
    text = _line(sev, where, lineno, msg)
    with _lock:
        if level >= _state["min"] and (not _state["quiet"] or level >= 3):
            try:
                sys.stderr.write(text)
                sys.stderr.flush()
            except (OSError, ValueError):
                pass
        f = _state["file"]
        if f is not None:
            try:
                f.write(text)
                f.flush()
            except (OSError, ValueError):
                pass


def info(where, lineno, msg):
    log("I", where, lineno, msg)


def warning(where, lineno, msg):
    log("W", where, lineno, msg)


def error(where, lineno, msg):
    log("E", where, lineno, msg)


def exit_failure(where, lineno, msg, code=1):
    """stout's EXIT(EXIT_FAILURE) << msg: logs and exits without cleanup.

    os._exit keeps ZooKeeper sessions open (no close request is sent), like
    the real process which never closes its ZooKeeper handle on exit."""
    log("E", where, lineno, msg)
    os._exit(code)


def fatal(where, lineno, msg):
    """LOG(FATAL): log and abort (SIGABRT)."""
    log("F", where, lineno, msg)
    with _lock:
        try:
            sys.stderr.write("*** Check failure stack trace: ***\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
    os.abort()
