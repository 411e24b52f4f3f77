"""pytest setup for the Mesos double's unit tests."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DOUBLE_DIR = os.path.abspath(os.path.join(HERE, "..", "..", "mesos_double"))
for p in (DOUBLE_DIR, HERE):
    if p not in sys.path:
        sys.path.insert(0, p)

from mesos_double_testlib import (  # noqa: E402,F401  (fixtures)
    procs, pytest_runtest_makereport, zk_client, zk_path, zk_server)
