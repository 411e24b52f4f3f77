"""Small helpers shared by the Molecule/sandbox test suites (pytest, on the controller).

* ``hosts``     - find a test host's container and address (inventory + ``docker inspect``).
* ``zk``        - ZooKeeper four-letter words, ``srvr`` parsing, a kazoo client factory and
                  the quorum probe thread.

Only the test hosts' own container addresses are contacted, always with timeouts.
Import with ``sys.path.insert(0, "<repo>/tests/lib")`` (see the scenarios' conftest.py).
"""
