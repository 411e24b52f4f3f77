"""Process-level behaviour shared by master and agent: flags load, signals, hooks."""

import os
import signal
import sys
import threading

from . import MESOS_VERSION, PACKAGE_VERSION, flags as flagsmod, glog, net


def load_flags(program, specs, argv):
    """Load flags like mesos' main(): help/version, errors -> exit 1."""
    try:
        flags, warnings = flagsmod.load(specs, argv)
    except flagsmod.FlagError as exc:
        # --help/--version are honoured even when loading failed (main.cpp order)
        partial = exc.flags
        if partial is not None and partial.help:
            sys.stdout.write(flagsmod.usage(program, specs) + "\n")
            sys.exit(0)
        if partial is not None and partial.version:
            sys.stdout.write("mesos %s\n" % MESOS_VERSION)
            sys.exit(0)
        sys.stderr.write("%s\nSee `%s --help` for a list of supported flags.\n" % (exc, program))
        sys.stderr.flush()
        sys.exit(1)
    if flags.help:
        sys.stdout.write(flagsmod.usage(program, specs) + "\n")
        sys.exit(0)
    if flags.version:
        sys.stdout.write("mesos %s\n" % MESOS_VERSION)
        sys.exit(0)
    return flags, warnings


def crash_hook(program):
    """Double-only: MESOS_DOUBLE_CRASH_AT_START=1 makes the process exit at once."""
    if os.environ.get("MESOS_DOUBLE_CRASH_AT_START", "").strip().lower() in ("1", "true", "yes"):
        sys.stderr.write("%s (mesos-double): crashing at start because "
                         "MESOS_DOUBLE_CRASH_AT_START is set (test fault hook)\n" % program)
        sys.stderr.flush()
        os._exit(1)


def check_ssl(where):
    err = net.tls().check()
    if err:
        glog.exit_failure(where, 590, err)


def install_signal_handling():
    """glog/mesos SIGTERM handling: log, then re-raise with the default handler.

    The ZooKeeper session is deliberately NOT closed (the znodes outlive the
    process until the server expires the session), like the real master.
    Must be called before any thread is started so all threads block SIGTERM."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})

    def waiter():
        while True:
            info = signal.sigwaitinfo({signal.SIGTERM, signal.SIGINT})
            sig = info.si_signo
            if sig == signal.SIGTERM:
                if info.si_code <= 0:  # SI_USER / SI_QUEUE / SI_TKILL...
                    glog.warning("logging.cpp", 108,
                                 "Received signal SIGTERM from process %d of user %d; exiting"
                                 % (info.si_pid, info.si_uid))
                else:
                    glog.warning("logging.cpp", 112, "Received signal SIGTERM; exiting")
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {sig})
            os.kill(os.getpid(), sig)
            os._exit(128 + sig)  # not reached normally

    threading.Thread(target=waiter, name="signals", daemon=True).start()


def wait_forever():
    threading.Event().wait()


def run_daemon(program, flag_table, daemon_cls, argv):
    """The shared main() of mesos-master and mesos-agent: flags, logging, signals, SSL, run."""
    crash_hook(program)
    flags, warnings = load_flags(program, flag_table, argv)
    glog.configure(flags.logging_level, flags.quiet, flags.log_dir, program)
    install_signal_handling()
    for w in warnings:
        glog.warning("main.cpp", 293, w)
    glog.info("main.cpp", 301, "Build: mesos-double %s (protocol double, not Apache Mesos)"
              % PACKAGE_VERSION)
    glog.info("main.cpp", 302, "Version: %s" % MESOS_VERSION)
    check_ssl("openssl.cpp")
    daemon = daemon_cls(flags)
    daemon.validate()
    daemon.start()
    wait_forever()
