"""Negative test (hardening.md §7 item 17): a member whose quorum password is wrong never joins,
the SASL failure is logged, and the other two keep their quorum throughout. The member's JAAS
file is restored afterwards and it rejoins."""
from __future__ import annotations

import time

from scenario import modes, report, secret, wait_all_serving
from mesos_ha_testlib import hosts as th
from mesos_ha_testlib import zk

JAAS = "/etc/zookeeper/conf_mesos_ha/jaas.conf"
BACKUP = "/root/jaas.conf.molecule-backup"
# A started member joins within about one election when its credentials are right (test_20 and
# test_30 measure that); a member with wrong credentials must stay out for at least this long.
REFUSED_FOR_S = 30.0
SASL_FAILURES = ("Authentication failed against server addr", "Failed to authenticate using SASL")


def journal_since(member, cursor_time: str) -> str:
    return th.run_in(member.container, "journalctl", "-u", "zookeeper.service", "--no-pager", "-o", "cat",
                     "--since", cursor_time).stdout


def test_member_with_a_wrong_quorum_password_does_not_join(members, addresses):
    wait_all_serving(members)
    before = modes(members)
    victim = next(m for m in members if before[m.name] == "follower")
    others = [m for m in members if m is not victim]
    good = secret("zookeeper_quorum")
    jaas = th.run_in(victim.container, "cat", JAAS).stdout
    assert jaas.count(good) == 2, "expected the quorum password in QuorumServer and QuorumLearner"
    since = th.run_in(victim.container, "date", "+%Y-%m-%d %H:%M:%S").stdout.strip()

    th.run_in(victim.container, "systemctl", "stop", "zookeeper.service")
    th.run_in(victim.container, "cp", "-p", JAAS, BACKUP)
    try:
        th.run_in(victim.container, "tee", JAAS, stdin=jaas.replace(good, "wrong-" + good[::-1]))
        with zk.QuorumProbe([m.address for m in others], interval=0.2) as probe:
            t0 = time.monotonic()
            # Type=notify: start returns only when READY, which a member outside the quorum never sends.
            th.run_in(victim.container, "systemctl", "start", "--no-block", "zookeeper.service")
            seen: set[str] = set()
            first_failure = None
            while time.monotonic() - t0 < REFUSED_FOR_S:
                seen.add(zk.srvr(victim.address, timeout=0.5).mode)
                if first_failure is None and any(f in journal_since(m, since) for m in members for f in SASL_FAILURES):
                    first_failure = time.monotonic() - t0
                time.sleep(0.5)
            others_now = {m.name: zk.srvr(m.address).mode for m in others}
        journal = "\n".join(journal_since(m, since) for m in members)
        assert not seen & {"leader", "follower", "standalone"}, f"{victim.name} joined: modes seen {seen}"
        assert any(f in journal for f in SASL_FAILURES), journal[-3000:]
        assert first_failure is not None
        assert probe.polls > 20 and probe.outages == [], \
            f"the two good members lost quorum: {probe.outages} ({probe.outage_modes})"
        assert sorted(others_now.values()) == ["follower", "leader"], others_now
        report(f"wrong quorum password: {victim.name} refused (first SASL failure logged "
               f"{first_failure:.1f} s after start), stayed out {REFUSED_FOR_S:.0f} s (modes {sorted(seen)}), "
               f"{probe.polls} quorum polls of the others without an outage")
    finally:
        th.run_in(victim.container, "systemctl", "stop", "zookeeper.service", check=False)
        th.run_in(victim.container, "cp", "-p", BACKUP, JAAS)
        th.run_in(victim.container, "rm", "-f", BACKUP)
        th.run_in(victim.container, "systemctl", "reset-failed", "zookeeper.service", check=False)
        th.run_in(victim.container, "systemctl", "start", "--no-block", "zookeeper.service")
    wait_all_serving(members, timeout=120)
    assert th.run_in(victim.container, "cat", JAAS).stdout == jaas
