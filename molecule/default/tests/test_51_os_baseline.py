"""The OS baseline (roles/os_baseline): the container-checkable items of hardening.md §7.

Items 1-5 and 7-10 (6 and the runtime half of 3, 4 and 7 need a VM; see the role README).
Each check reads the live containers; sshd is also asked over the network which
authentication methods it offers (public key only).
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mesos_ha_testlib import hosts as th
from mesos_ha_testlib import mesos

SYSCTL_FILE = "/etc/sysctl.d/60-mesos-ha.conf"
BLACKLIST_FILE = "/etc/modprobe.d/mesos-ha-blacklist.conf"
BLACKLISTED = ["cramfs", "freevxfs", "jffs2", "hfs", "hfsplus", "udf", "dccp", "sctp", "rds", "tipc"]
# SUID/SGID binaries that have no business on a cluster host (legacy r-commands, dial-up, X).
SUID_BLACKLIST = {"/usr/bin/rcp", "/usr/bin/rlogin", "/usr/bin/rsh", "/usr/bin/rexec", "/usr/sbin/pppd",
                  "/usr/bin/at", "/usr/bin/X", "/usr/lib/xorg/Xorg.wrap", "/usr/bin/traceroute6.iputils",
                  "/usr/bin/mtr", "/usr/bin/screen", "/usr/sbin/exim4", "/usr/bin/procmail"}


def group_hosts(group: str) -> list[mesos.Host]:
    """The hosts of a group (children expanded) with their containers and scenario addresses."""
    return mesos.group_hosts(group)


@pytest.fixture(scope="module")
def all_hosts() -> list[mesos.Host]:
    found: dict[str, mesos.Host] = {}
    for group in ("zookeeper", "mesos_masters", "mesos_agents"):
        found.update({h.name: h for h in group_hosts(group)})
    # Every check loops over these: an empty inventory would pass them all.
    assert len(found) == 5, f"expected the scenario's 5 hosts, found {sorted(found)}"
    return [found[name] for name in sorted(found)]


@pytest.fixture(scope="module")
def agent_names() -> set[str]:
    return {h.name for h in group_hosts("mesos_agents")}


def sh(container: str, script: str, check: bool = True) -> str:
    return th.run_in(container, "sh", "-c", script, check=check).stdout


def stat(container: str, path: str) -> tuple[str, str, str]:
    """(owner, group, octal mode) of a path."""
    owner, group, mode = sh(container, f"stat -c '%U %G %a' {path}").split()
    return owner, group, mode


def kv_file(text: str, separator: str = r"\s+") -> dict[str, str]:
    """Non-comment 'key<sep>value' lines as a dict."""
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            parts = re.split(separator, line, maxsplit=1)
            values[parts[0].strip()] = parts[1].strip() if len(parts) > 1 else ""
    return values


# -------------------------------------------------------------------------------- 1. files, login.defs
def test_account_files_and_login_defs(all_hosts: list[mesos.Host]) -> None:
    for host in all_hosts:
        assert stat(host.container, "/etc/shadow") == ("root", "shadow", "640"), host.name
        assert stat(host.container, "/etc/gshadow") == ("root", "shadow", "640"), host.name
        assert stat(host.container, "/etc/passwd") == ("root", "root", "644"), host.name
        assert stat(host.container, "/etc/login.defs") == ("root", "root", "644"), host.name
        defs = kv_file(th.run_in(host.container, "cat", "/etc/login.defs").stdout)
        assert defs.get("UMASK") == "027", f"{host.name}: UMASK {defs.get('UMASK')}"
        assert (defs.get("PASS_MAX_DAYS"), defs.get("PASS_MIN_DAYS"), defs.get("PASS_WARN_AGE")) == ("60", "7", "7")


# ------------------------------------------------------------------------ 8. PAM lockout and quality
PASSWORD = "Corr3ct-Horse-Battery-9-Staple"


def test_pam_stacks_lock_accounts_and_check_passwords(all_hosts: list[mesos.Host]) -> None:
    for host in all_hosts:
        order = []
        for line in sh(host.container, "grep -v '^#' /etc/pam.d/common-auth").splitlines():
            if "pam_faillock.so" in line:
                order.append("faillock " + line.split("pam_faillock.so", 1)[1].strip())
            elif "pam_unix.so" in line:
                order.append("unix")
        assert order == ["faillock preauth", "unix", "faillock authfail"], f"{host.name}: common-auth {order}"
        assert "pam_faillock.so" in sh(host.container, "grep -v '^#' /etc/pam.d/common-account"), host.name
        assert "pam_pwquality.so" in sh(host.container, "grep -v '^#' /etc/pam.d/common-password"), host.name
        faillock = kv_file(sh(host.container, "cat /etc/security/faillock.conf"), r"\s*=\s*")
        assert (faillock.get("deny"), faillock.get("unlock_time"), faillock.get("fail_interval")) == ("5", "900", "900")
        quality = kv_file(sh(host.container, "cat /etc/security/pwquality.conf.d/60-mesos-ha.conf"), r"\s*=\s*")
        assert quality.get("minlen") == "14" and quality.get("minclass") == "3", f"{host.name}: {quality}"


def test_five_bad_passwords_lock_an_account(all_hosts: list[mesos.Host]) -> None:
    """dev-sec's root_lockout pattern with pamtester and a throwaway user: after five wrong
    passwords the right one is refused too, until the lock is reset; a short new password is
    refused by pwquality."""
    c = all_hosts[0].container
    sh(c, "command -v pamtester >/dev/null || apt-get install -y -q --no-install-recommends pamtester >/dev/null")
    sh(c, f"userdel -r locktest 2>/dev/null; useradd -m locktest && echo 'locktest:{PASSWORD}' | chpasswd"
          " && chage -m 0 locktest")  # login.defs' PASS_MIN_DAYS would forbid today's change
    try:
        login = f"echo '{PASSWORD}' | pamtester login locktest authenticate"
        assert "successfully authenticated" in sh(c, f"{login} 2>&1"), "the right password is refused before any failure"
        for _ in range(5):
            sh(c, "echo wrong-password | pamtester login locktest authenticate >/dev/null 2>&1", check=False)
        locked = sh(c, f"{login} 2>&1", check=False)
        assert "locked" in locked and "successfully" not in locked, f"not locked after 5 failures: {locked}"
        assert int(sh(c, "faillock --user locktest | grep -c ' V$'", check=False) or 0) >= 5, "failures not recorded"
        sh(c, "faillock --user locktest --reset")
        assert "successfully authenticated" in sh(c, f"{login} 2>&1"), "the reset did not unlock the account"
        weak = sh(c, f"printf '{PASSWORD}\\nshort-9A\\nshort-9A\\nshort-9A\\n' | runuser -u locktest -- "
                     "pamtester passwd locktest chauthtok 2>&1", check=False)
        assert "shorter than 14 characters" in weak, weak
    finally:
        sh(c, "faillock --user locktest --reset 2>/dev/null; userdel -r locktest 2>/dev/null", check=False)


# ------------------------------------------------------------------------ 2. SUID, rhosts, unique ids
def test_no_blacklisted_suid_no_rhosts_unique_ids(all_hosts: list[mesos.Host]) -> None:
    for host in all_hosts:
        suid = set(sh(host.container, "find / -xdev -type f -perm /6000 2>/dev/null", check=False).split())
        assert not suid & SUID_BLACKLIST, f"{host.name}: blacklisted SUID/SGID files {suid & SUID_BLACKLIST}"
        trust = sh(host.container, "find /root /home /etc -maxdepth 3 \\( -name .rhosts -o -name .netrc "
                                   "-o -name hosts.equiv -o -name .shosts \\) 2>/dev/null", check=False).split()
        assert trust == [], f"{host.name}: trust files {trust}"
        for database in ("passwd", "group"):
            ids = [line.split(":")[2] for line in sh(host.container, f"getent {database}").splitlines() if line]
            duplicates = {i for i in ids if ids.count(i) > 1}
            assert not duplicates, f"{host.name}: duplicate ids in {database}: {duplicates}"


# ------------------------------------------------------------------------------- 3. module blacklist
def test_module_blacklist(all_hosts: list[mesos.Host]) -> None:
    for host in all_hosts:
        text = th.run_in(host.container, "cat", BLACKLIST_FILE).stdout
        for module in BLACKLISTED:
            assert f"install {module} /bin/false" in text and f"blacklist {module}" in text, (host.name, module)
        statements = [line.split() for line in text.splitlines() if line.strip() and not line.startswith("#")]
        for module in ("squashfs", "vfat"):
            assert not [s for s in statements if module in s], f"{host.name}: {module} must stay loadable by default"
        assert stat(host.container, BLACKLIST_FILE)[:2] == ("root", "root")
        # modprobe resolves the install command without loading anything (-n).
        dry = th.run_in(host.container, "modprobe", "-n", "-v", "cramfs", check=False)
        assert "install /bin/false" in dry.stdout + dry.stderr, f"{host.name}: {dry.stdout} {dry.stderr}"


# ------------------------------------------------------------------------------------------ 4. sysctl
def test_sysctl_file_with_forwarding_only_on_agents(all_hosts: list[mesos.Host], agent_names: set[str]) -> None:
    for host in all_hosts:
        assert stat(host.container, SYSCTL_FILE) == ("root", "root", "644"), host.name
        values = kv_file(th.run_in(host.container, "cat", SYSCTL_FILE).stdout, r"\s*=\s*")
        expected_forward = "1" if host.name in agent_names else "0"
        assert values.get("net.ipv4.ip_forward") == expected_forward, f"{host.name}: {values.get('net.ipv4.ip_forward')}"
        for key, value in {"fs.suid_dumpable": "0", "kernel.kptr_restrict": "2", "kernel.randomize_va_space": "2",
                           "kernel.yama.ptrace_scope": "1", "kernel.sysrq": "0", "fs.protected_symlinks": "1",
                           "net.ipv4.conf.all.accept_redirects": "0", "net.ipv4.conf.all.send_redirects": "0",
                           "net.ipv4.conf.all.accept_source_route": "0", "net.ipv4.tcp_syncookies": "1"}.items():
            assert values.get(key) == value, f"{host.name}: {key} = {values.get(key)}, expected {value}"


# ------------------------------------------------------------------------------------------ 5. hidepid
def test_proc_is_not_mounted_with_hidepid(all_hosts: list[mesos.Host]) -> None:
    for host in all_hosts:
        mounts = [line for line in th.run_in(host.container, "cat", "/proc/mounts").stdout.splitlines()
                  if line.split()[1:2] == ["/proc"]]
        assert mounts and not any("hidepid" in line for line in mounts), f"{host.name}: {mounts}"


# ------------------------------------------------------------------------------------------- 7. auditd
def test_auditd_installed_with_rules_rendered(all_hosts: list[mesos.Host]) -> None:
    for host in all_hosts:
        status = th.run_in(host.container, "dpkg-query", "-W", "-f=${Status}", "auditd", check=False).stdout
        assert status == "install ok installed", f"{host.name}: auditd {status}"
        assert stat(host.container, "/etc/audit/auditd.conf") == ("root", "root", "640"), host.name
        rules = th.run_in(host.container, "cat", "/etc/audit/rules.d/mesos-ha.rules").stdout
        for path in ("/etc/zookeeper", "/etc/mesos", "/etc/mesos-ha", "/etc/nftables.conf", "/etc/nftables.d"):
            assert re.search(rf"^-w {re.escape(path)} -p wa -k \S+$", rules, re.MULTILINE), (host.name, path)
        # In a container auditd cannot run; it must not leave a failed unit behind either.
        state = th.run_in(host.container, "systemctl", "is-failed", "auditd.service", check=False).stdout.strip()
        assert state != "failed", f"{host.name}: auditd.service failed"


# ---------------------------------------------------------------------------------------------- 9. sshd
def test_sshd_effective_configuration(all_hosts: list[mesos.Host]) -> None:
    expected = {"permitrootlogin": "no", "passwordauthentication": "no", "kbdinteractiveauthentication": "no",
                "pubkeyauthentication": "yes", "maxauthtries": "2", "allowtcpforwarding": "no",
                "allowagentforwarding": "no", "x11forwarding": "no", "permittunnel": "no", "loglevel": "VERBOSE"}
    for host in all_hosts:
        effective = kv_file(th.run_in(host.container, "sshd", "-T").stdout)
        wrong = {k: effective.get(k) for k, v in expected.items() if effective.get(k) != v}
        assert not wrong, f"{host.name}: sshd -T differs: {wrong}"
        active = th.run_in(host.container, "systemctl", "is-active", "ssh.service", check=False).stdout.strip()
        assert active == "active", f"{host.name}: ssh.service {active}"


@pytest.mark.skipif(shutil.which("ssh") is None, reason="no ssh client on the controller")
def test_sshd_offers_public_keys_only(all_hosts: list[mesos.Host]) -> None:
    host = all_hosts[0]
    proc = subprocess.run(["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                           "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10",
                           "-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password,keyboard-interactive",
                           f"root@{host.address}", "true"], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode != 0
    assert "Permission denied (publickey)" in proc.stderr, proc.stderr


# ---------------------------------------------------------------------------------------- 10. coredumps
def test_core_dumps_disabled(all_hosts: list[mesos.Host]) -> None:
    for host in all_hosts:
        coredump = th.run_in(host.container, "cat", "/etc/systemd/coredump.conf.d/60-mesos-ha.conf").stdout
        assert re.search(r"^Storage=none$", coredump, re.MULTILINE), f"{host.name}: {coredump}"
        limits = th.run_in(host.container, "cat", "/etc/security/limits.d/60-mesos-ha.conf").stdout
        assert re.search(r"^\*\s+hard\s+core\s+0$", limits, re.MULTILINE), f"{host.name}: {limits}"
        values = kv_file(th.run_in(host.container, "cat", SYSCTL_FILE).stdout, r"\s*=\s*")
        assert values.get("fs.suid_dumpable") == "0", host.name
