"""Addresses (libprocess rules), TLS settings (LIBPROCESS_SSL_*) and an HTTP client."""

import json
import os
import socket
import ssl
import struct
import http.client

from . import glog


def resolve_hostname_ip():
    """libprocess without --ip: resolve gethostname() (may give 127.0.1.1 on Debian)."""
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


def ip_to_uint32_network_order(ip):
    """127.0.0.1 -> 16777343 (the in_addr bytes read as a little-endian uint32)."""
    return struct.unpack("<I", socket.inet_aton(ip))[0]


def reverse_dns(ip):
    try:
        return socket.gethostbyaddr(ip)[0]
    except OSError:
        return ip


class Addresses:
    def __init__(self, flags, default_port):
        self.bind_ip = flags.ip or os.environ.get("LIBPROCESS_IP") or "0.0.0.0"
        self.port = flags.port if flags.port is not None else default_port
        if self.bind_ip == "0.0.0.0":
            self.ip = resolve_hostname_ip()
        else:
            self.ip = self.bind_ip
        adv_ip = flags.advertise_ip or os.environ.get("LIBPROCESS_ADVERTISE_IP")
        if adv_ip:
            self.ip = adv_ip
        self.advertise_port = self.port
        adv_port = flags.advertise_port or os.environ.get("LIBPROCESS_ADVERTISE_PORT")
        if adv_port:
            self.advertise_port = int(adv_port)
        if flags.hostname:
            self.hostname = flags.hostname
        elif flags.hostname_lookup:
            self.hostname = reverse_dns(self.ip)
        else:
            self.hostname = self.ip


def _env_bool(name, legacy=None):
    for key in (name,) + ((legacy,) if legacy else ()):
        val = os.environ.get(key)
        if val is None:
            val = os.environ.get(key.replace("LIBPROCESS_", "", 1))  # deprecated SSL_* prefix
        if val is not None:
            if key == legacy:
                glog.warning("openssl.cpp", 140,
                             "Deprecated environment variable %s, use %s instead" % (legacy, name))
            return val.strip().lower() in ("true", "1", "yes")
    return False


def _env_bool_default(name, default):
    if os.environ.get(name) is None and os.environ.get(name.replace("LIBPROCESS_", "", 1)) is None:
        return default
    return _env_bool(name)


TLS_VERSIONS = (
    (ssl.TLSVersion.TLSv1, "TLS_V1_0", False),
    (ssl.TLSVersion.TLSv1_1, "TLS_V1_1", False),
    (ssl.TLSVersion.TLSv1_2, "TLS_V1_2", True),
    (ssl.TLSVersion.TLSv1_3, "TLS_V1_3", False),
)


class TLS:
    """LIBPROCESS_SSL_* settings (docs/ssl.md)."""

    def __init__(self):
        e = os.environ
        self.enabled = _env_bool("LIBPROCESS_SSL_ENABLED")
        self.downgrade = _env_bool("LIBPROCESS_SSL_SUPPORT_DOWNGRADE")
        self.key_file = e.get("LIBPROCESS_SSL_KEY_FILE")
        self.cert_file = e.get("LIBPROCESS_SSL_CERT_FILE")
        self.ca_file = e.get("LIBPROCESS_SSL_CA_FILE")
        self.ca_dir = e.get("LIBPROCESS_SSL_CA_DIR")
        self.verify_server = _env_bool("LIBPROCESS_SSL_VERIFY_SERVER_CERT", "LIBPROCESS_SSL_VERIFY_CERT")
        self.require_client = _env_bool("LIBPROCESS_SSL_REQUIRE_CLIENT_CERT", "LIBPROCESS_SSL_REQUIRE_CERT")
        # 'legacy' (default) checks the peer's reverse-DNS name, which the double does not model;
        # 'openssl' makes OpenSSL check the certificate against the name/IP the client connected to.
        self.hostname_scheme = (e.get("LIBPROCESS_SSL_HOSTNAME_VALIDATION_SCHEME") or "legacy").strip().lower()
        # Protocol switches (docs/ssl.md): only TLS 1.2 is on by default.
        self.versions = [version for version, name, default in TLS_VERSIONS
                         if _env_bool_default("LIBPROCESS_SSL_ENABLE_" + name, default)]

    def check(self):
        """Returns an error message or None (openssl.cpp:583-590)."""
        if not self.enabled:
            return None
        if self.hostname_scheme not in ("legacy", "openssl"):
            return ("Unknown value for hostname_validation_scheme: '%s' (supported: 'legacy', 'openssl')"
                    % self.hostname_scheme)
        if not self.versions:
            return "No SSL/TLS protocol version is enabled (LIBPROCESS_SSL_ENABLE_TLS_V1_2 is false)"
        if not self.key_file:
            return "SSL requires key! NOTE: Set path with LIBPROCESS_SSL_KEY_FILE"
        if not self.cert_file:
            return "SSL requires certificate! NOTE: Set path with LIBPROCESS_SSL_CERT_FILE"
        return None

    def _load_ca(self, ctx):
        if self.ca_file or self.ca_dir:
            ctx.load_verify_locations(cafile=self.ca_file or None, capath=self.ca_dir or None)
        else:
            ctx.load_default_certs()

    def _protocols(self, ctx):
        ctx.minimum_version = min(self.versions)
        ctx.maximum_version = max(self.versions)

    def server_context(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._protocols(ctx)
        ctx.load_cert_chain(self.cert_file, self.key_file)
        if self.require_client:
            ctx.verify_mode = ssl.CERT_REQUIRED
            self._load_ca(ctx)
        return ctx

    def client_context(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self._protocols(ctx)
        ctx.check_hostname = False
        if self.verify_server:
            ctx.verify_mode = ssl.CERT_REQUIRED
            self._load_ca(ctx)
            ctx.check_hostname = self.hostname_scheme == "openssl"
        else:
            ctx.verify_mode = ssl.CERT_NONE
        # libprocess presents its own certificate on outgoing connections too
        ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx


_TLS = None


def tls():
    global _TLS
    if _TLS is None:
        _TLS = TLS()
    return _TLS


def request(host, port, method, path, body=None, timeout=5.0, headers=None):
    """Internal double-to-double HTTP call; returns (status, parsed JSON or text)."""
    t = tls()
    if t.enabled:
        conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=t.client_context())
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        hdrs = {"Connection": "close"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        if headers:
            hdrs.update(headers)
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        raw = resp.read()
        try:
            parsed = json.loads(raw.decode() or "null")
        except ValueError:
            parsed = raw.decode("utf-8", "replace")
        return resp.status, parsed
    finally:
        conn.close()


def split_pid(pid):
    """'master@1.2.3.4:5050' -> ('1.2.3.4', 5050)."""
    addr = pid.split("@", 1)[1]
    host, port = addr.rsplit(":", 1)
    return host, int(port)
