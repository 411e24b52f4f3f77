"""Protocol-faithful Apache Mesos 1.11 double for tests.

This is NOT Apache Mesos.  It reproduces the externally observable contracts
(flags, ZooKeeper layout, leader election, registry quorum behaviour, HTTP
endpoints) that the deployment roles and their verifiers rely on.  It runs no
tasks, frameworks, containers or isolation.
"""

MESOS_VERSION = "1.11.0"

try:  # written by build-deb.sh
    from ._pkgversion import PACKAGE_VERSION  # type: ignore
except ImportError:  # pragma: no cover - source checkout
    PACKAGE_VERSION = MESOS_VERSION + "-0.double0+src"
