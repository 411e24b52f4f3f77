"""Secret-quality checks shared by every role that takes a password or a shared secret.

The roles refuse a deployment whose secrets are empty, too short or default-looking, before any
host is touched. The messages name the variable and the rule, never the value.
"""

from __future__ import annotations

import re

DOCUMENTATION = r"""
name: mesos_ha_secret_problems
short_description: List what is wrong with a secret (never echoing it)
description:
  - Returns a list of messages; empty when the secret is acceptable.
  - A secret is refused when it is empty, shorter than the minimum length, made of one repeated
    character, a well-known default (changeme, password, secret, the service names...), or still
    an unrendered placeholder.
options:
  _input:
    description: The secret.
    type: raw
    required: true
  name:
    description: The variable's name, used in the messages.
    type: str
    required: true
  min_length:
    description: Minimum number of characters.
    type: int
    default: 16
"""

# Lower-cased words that make a secret "default-looking" when the whole secret is one of them,
# or one of them followed only by digits/punctuation (e.g. "password123!").
_DEFAULT_WORDS = {
    "admin", "administrator", "changeme", "change_me", "changeit", "default", "letmein",
    "mesos", "mesos-master", "mesos-agent", "master", "agent", "operator", "password", "passwd",
    "root", "secret", "super", "superuser", "test", "toor", "zookeeper", "zk", "qwerty",
    "example", "insecure", "todo", "fixme", "replace_me", "replaceme",
}
_PLACEHOLDER = re.compile(r"(\{\{|\}\}|<[a-z _-]+>|^\$\{?[A-Z_]+\}?$|vault_)", re.IGNORECASE)


def secret_problems(value, name: str, min_length: int = 16) -> list[str]:
    """Return human-readable problems with ``value``; the value itself never appears in them."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return [f"{name} is empty; set it (ansible-vault encrypt_string) to a random string of at "
                f"least {min_length} characters"]
    if not isinstance(value, str):
        return [f"{name} must be a string, got {type(value).__name__}"]
    problems = []
    if len(value) < min_length:
        problems.append(f"{name} has {len(value)} characters; use at least {min_length} "
                        f"(e.g. `openssl rand -base64 24`)")
    stem = re.sub(r"[\d\W_]+$", "", value.lower())
    if value.lower() in _DEFAULT_WORDS or stem in _DEFAULT_WORDS:
        problems.append(f"{name} looks like a default password; replace it with a random string")
    elif len(set(value)) <= 2:
        problems.append(f"{name} repeats one or two characters; replace it with a random string")
    if _PLACEHOLDER.search(value):
        problems.append(f"{name} still contains a placeholder or template marker; set the real secret")
    return problems


class FilterModule:
    """Secret checks."""

    def filters(self):
        return {"mesos_ha_secret_problems": secret_problems}
