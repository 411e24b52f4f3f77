"""Unit tests for the security filters in filter_plugins/zookeeper.py."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_path = Path(__file__).resolve().parents[3] / "filter_plugins" / "zookeeper.py"
_spec = importlib.util.spec_from_file_location("zookeeper_filters_security", _path)
zf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(zf)


# Known values printed by ZooKeeper 3.8.0's own generator:
#   java -cp zookeeper.jar:... org.apache.zookeeper.server.auth.DigestAuthenticationProvider super:password ...
@pytest.mark.parametrize("user, password, expected", [
    ("super", "password", "super:DyNYQEQvajljsxlhf5uS4PJ9R28="),
    ("mesos", "correct-horse-battery-staple", "mesos:sdITjhGTbVXx9eYKmYGLeoRlABQ="),
])
def test_digest_matches_zookeeper(user, password, expected):
    assert zf.zookeeper_digest(user, password) == expected


@pytest.mark.parametrize("user, password", [("", "pw"), ("a:b", "pw"), ("super", ""), ("super", None)])
def test_digest_refuses_unusable_input_without_echoing_the_password(user, password):
    with pytest.raises(ValueError) as error:
        zf.zookeeper_digest(user, password)
    assert "pw" not in str(error.value)


def test_protected_paths_accept_the_mesos_glue():
    assert zf.zookeeper_protected_path_errors(
        [{"path": "/mesos", "username": "mesos", "password": "x" * 20},
         {"path": "/marathon/state", "username": "marathon", "password": "y" * 20}]) == []


@pytest.mark.parametrize("paths, fragment", [
    ("/mesos", "must be a list"),
    (["/mesos"], "must be a dict"),
    ([{"path": "/mesos", "username": "mesos"}], "lacks password"),
    ([{"path": "mesos", "username": "mesos", "password": "p"}], "absolute znode path"),
    ([{"path": "/mesos/", "username": "mesos", "password": "p"}], "absolute znode path"),
    ([{"path": "/zookeeper/quota", "username": "mesos", "password": "p"}], "outside /zookeeper"),
    ([{"path": "/mesos", "username": "super", "password": "p"}], "not 'super'"),
    ([{"path": "/mesos", "username": "me:sos", "password": "p"}], "no ':'"),
    ([{"path": "/m", "username": "a", "password": "p"}, {"path": "/m", "username": "b", "password": "q"}],
     "listed twice"),
])
def test_protected_paths_refuse_bad_entries(paths, fragment):
    errors = zf.zookeeper_protected_path_errors(paths)
    assert any(fragment in e for e in errors), errors


def test_parse_security_reads_flags_and_defaults_to_false():
    text = "tickTime=1000\nquorum.auth.enableSasl=true\nquorum.auth.learnerRequireSasl=false\nsslQuorum=true\n"
    assert zf.zookeeper_parse_security(text) == {
        "sasl": True, "sasl_learner_required": False, "sasl_server_required": False,
        "ssl": True, "unification": False}
    assert not any(zf.zookeeper_parse_security("").values())


PLAIN = {"sasl": False, "sasl_learner_required": False, "sasl_server_required": False,
         "ssl": False, "unification": False}
SECURE = {"sasl": True, "sasl_learner_required": True, "sasl_server_required": True,
          "ssl": True, "unification": False}


def phase(running, auth=True, required=True, tls=True):
    result = zf.zookeeper_security_phase(running, auth, required, tls)
    return (result["sasl"], result["sasl_required"], result["ssl"], result["unification"], result["final"])


def test_fresh_ensemble_starts_with_the_target():
    assert phase([]) == (True, True, True, False, True)
    assert phase([], auth=False, tls=False) == (False, False, False, False, True)


def test_secure_running_ensemble_stays_put():
    assert phase([SECURE] * 3) == (True, True, True, False, True)


def test_plain_ensemble_is_migrated_in_steps_that_keep_a_quorum():
    step1 = phase([PLAIN] * 3)
    assert step1 == (True, False, False, True, False)   # SASL optional, accept TLS and plain
    after1 = dict(PLAIN, sasl=True, unification=True)
    step2 = phase([after1] * 3)
    assert step2 == (True, True, True, True, False)     # require SASL, speak TLS, still accept plain
    after2 = dict(SECURE, unification=True)
    step3 = phase([after2] * 3)
    assert step3 == (True, True, True, False, True)     # drop plain


def test_a_partly_restarted_ensemble_waits_for_the_laggard():
    # One member already runs the first step, two do not: all get the first step.
    after1 = dict(PLAIN, sasl=True, unification=True)
    assert phase([after1, PLAIN, PLAIN]) == (True, False, False, True, False)


def test_disabling_is_stepped_too():
    assert phase([SECURE] * 3, auth=False, tls=False) == (True, False, True, True, False)
    relaxed = dict(SECURE, sasl_learner_required=False, sasl_server_required=False, unification=True)
    assert phase([relaxed] * 3, auth=False, tls=False) == (False, False, False, True, False)
    done = dict(PLAIN, unification=True)
    assert phase([done] * 3, auth=False, tls=False) == (False, False, False, False, True)


def test_required_false_is_a_final_state():
    assert phase([SECURE] * 3, required=False) == (True, False, True, False, True)


def test_acl_paths_carry_digests_not_passwords():
    request = zf.zookeeper_acl_paths([{"path": "/mesos", "username": "mesos", "password": "correct-horse-battery-staple"}])
    assert request == [{"path": "/mesos", "digest": "mesos:sdITjhGTbVXx9eYKmYGLeoRlABQ="}]


def test_one_user_with_two_passwords_is_refused():
    errors = zf.zookeeper_protected_path_errors(
        [{"path": "/a", "username": "u", "password": "p1"}, {"path": "/b", "username": "u", "password": "p2"}])
    assert any("two different passwords" in e for e in errors), errors
    assert not any("p1" in e or "p2" in e for e in errors)
