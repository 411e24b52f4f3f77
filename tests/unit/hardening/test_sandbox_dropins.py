"""The systemd sandbox drop-ins of the zookeeper, mesos_master and mesos_agent roles, rendered
from their templates: the directives each must (or must not) carry, the rendering of
<role>_sandbox_extra, and - where systemd-analyze exists - the offline exposure of a minimal
unit with the drop-in against the role's default threshold. The live units are checked by
molecule/default/tests/test_56_systemd_sandbox.py.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import jinja2
import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]

ROLES = {
    "zookeeper": ("zookeeper.service", {"__zookeeper_sandbox_rw_paths": ["/var/lib/zookeeper", "/var/log/zookeeper"]},
                  "User=zookeeper\nGroup=zookeeper\n"),
    "mesos_master": ("mesos-master.service", {"mesos_common_user": "mesos",
                                              "__mesos_master_sandbox_rw_paths": ["/var/lib/mesos/master",
                                                                                  "/var/log/mesos/master"]},
                     "User=mesos\nGroup=mesos\n"),
    "mesos_agent": ("mesos-agent.service", {}, "Delegate=yes\nKillMode=mixed\n"),
}


def render(role: str, **overrides) -> str:
    unit, extra_vars, _ = ROLES[role]
    path = REPO / "roles" / role / "templates" / "etc" / "systemd" / "system" / f"{unit}.d" / "10-sandbox.conf.j2"
    env = jinja2.Environment(trim_blocks=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["comment"] = lambda text: "#\n# " + text + "\n#"
    defaults = yaml.safe_load((REPO / "roles" / role / "defaults" / "main.yml").read_text(encoding="utf-8"))
    values = {k: v for k, v in defaults.items() if k.startswith(f"{role}_sandbox_")}
    values.update(extra_vars, ansible_managed="Ansible managed", **overrides)
    return env.from_string(path.read_text(encoding="utf-8")).render(values)


def directives(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


@pytest.mark.parametrize("role", ["zookeeper", "mesos_master"])
def test_unprivileged_units_get_the_full_sandbox(role: str) -> None:
    got = directives(render(role))
    for key, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
                       "PrivateDevices": "yes", "CapabilityBoundingSet": "", "ProtectProc": "invisible",
                       "ProcSubset": "pid", "RestrictNamespaces": "yes", "UMask": "0027",
                       "SystemCallArchitectures": "native"}.items():
        assert got.get(key) == [value], f"{role}: {key}={got.get(key)}"
    assert got["SystemCallFilter"] == ["@system-service", "~@privileged @resources"]
    assert got["MemoryDenyWriteExecute"] == (["no"] if role == "zookeeper" else ["yes"])
    assert "PrivateUsers" not in got  # cannot start with ProtectProc=invisible on systemd 252


def test_agent_relaxes_what_a_container_runtime_needs() -> None:
    got = directives(render("mesos_agent"))
    for key in ("User", "NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices",
                "PrivateMounts", "ProtectControlGroups", "RestrictNamespaces", "ProtectKernelModules",
                "ProtectClock", "ProtectHostname", "RestrictSUIDSGID", "MemoryDenyWriteExecute"):
        assert key not in got, f"the agent's drop-in must not set {key}"
    assert "CAP_SYS_MODULE" in got["CapabilityBoundingSet"][0] and got["CapabilityBoundingSet"][0].startswith("~")
    assert "CAP_SYS_ADMIN" not in got["CapabilityBoundingSet"][0]
    assert "AF_NETLINK" in got["RestrictAddressFamilies"][0]


def test_extra_directives_render_one_line_per_value() -> None:
    text = render("zookeeper", zookeeper_sandbox_extra={
        "PrivateUsers": True, "ProtectProc": "default", "SystemCallFilter": ["", "@system-service"], "LimitNOFILE": 4096})
    tail = text.split("# zookeeper_sandbox_extra (", 1)[1].splitlines()[1:]
    assert tail == ["LimitNOFILE=4096", "PrivateUsers=yes", "ProtectProc=default", "SystemCallFilter=",
                    "SystemCallFilter=@system-service"]
    assert "# zookeeper_sandbox_extra (" not in render("zookeeper")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("role", sorted(ROLES))
def test_offline_exposure_of_a_minimal_unit_is_within_the_default_threshold(role: str, tmp_path: Path) -> None:
    unit, _, service = ROLES[role]
    threshold = yaml.safe_load((REPO / "roles" / role / "defaults" / "main.yml").read_text())[f"{role}_sandbox_exposure_max"]
    (tmp_path / unit).write_text(f"[Unit]\nDescription=test\n[Service]\nType=notify\nNotifyAccess=main\n"
                                 f"ExecStart=/bin/true\n{service}")
    (tmp_path / f"{unit}.d").mkdir()
    (tmp_path / f"{unit}.d" / "10-sandbox.conf").write_text(render(role))
    verify = subprocess.run(["systemd-analyze", "verify", "--man=no", str(tmp_path / unit)],
                            capture_output=True, text=True, check=False)
    assert "10-sandbox.conf" not in verify.stderr, verify.stderr
    result = subprocess.run(["systemd-analyze", "security", "--offline=true", f"--threshold={threshold}",
                             "--no-pager", str(tmp_path / unit)], capture_output=True, text=True, check=False)
    exposure = float(re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout).group(1))
    assert result.returncode == 0 and exposure * 10 <= threshold, f"{role}: {exposure}\n{result.stdout}"
