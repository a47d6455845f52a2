"""The ZMI guard's settings: vocabularies, validation, and the parsed form.

The registry records (``collective.securitybp.zmi_*``) are declared in
:class:`collective.securitybp.interfaces.IZMIGuardSettings`; this module holds
what that schema and the guard share. It imports nothing from the rest of the
add-on but its message factory, so ``interfaces.py`` can import it.
"""

from collective.securitybp import _
from collective.securitybp.exc import InvalidSetting
from dataclasses import dataclass
from plone.registry.interfaces import IRegistry
from zope.component import queryUtility
from zope.schema.vocabulary import SimpleTerm
from zope.schema.vocabulary import SimpleVocabulary
import ipaddress
import os
import re


MODE_REPORT = "report"
MODE_BLOCK = "block"
MODE_VOCABULARY = SimpleVocabulary(
    [
        SimpleTerm(MODE_REPORT, title=_("Report: observe and warn")),
        SimpleTerm(MODE_BLOCK, title=_("Block: answer only on manage hosts")),
    ]
)
STATUS_VOCABULARY = SimpleVocabulary(
    [
        SimpleTerm("404", title=_("404 Not Found (reveals nothing)")),
        SimpleTerm("403", title=_("403 Forbidden")),
    ]
)
DEFAULT_STATUS = 404
RECORD_PREFIX = "collective.securitybp."

# The escape hatch: SECURITYBP_ZMI_GUARD=off lets every request through.
ENV_VARIABLE = "SECURITYBP_ZMI_GUARD"
ENV_OFF_VALUES = frozenset({"off", "0", "false", "no", "disabled"})

HOST_PATTERN = re.compile(
    r"^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
    r"(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$"
)
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
# The default trusted proxies: a front proxy on the same machine.
LOOPBACK_NETWORKS = ("127.0.0.0/8", "::1/128")


def guard_switched_off(environ=None):
    """True when the environment variable switches blocking off.

    :param environ: the environment to read (a mapping with ``get``); this
        process's own by default.
    """
    value = (environ if environ is not None else os.environ).get(ENV_VARIABLE, "")
    return (value or "").strip().lower() in ENV_OFF_VALUES


def normalize_host(value):
    """A host name in the form the guard compares: lower case, no port.

    ``"WWW.Example.com:443"`` becomes ``"www.example.com"``, ``"[::1]:8080"``
    becomes ``"::1"``; a trailing dot is dropped.
    """
    host = (value or "").strip().lower()
    if host.startswith("["):
        end = host.find("]")
        return host[1:end] if end > 0 else host
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def is_valid_host(value):
    """True for a host name, an IPv4 or an IPv6 address (no port, no path)."""
    host = (value or "").strip().lower().rstrip(".")
    if HOST_PATTERN.match(host):
        return True
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def check_manage_hosts(value):
    """Constraint of ``zmi_manage_hosts``: every entry is a host name.

    :raises zope.interface.Invalid: naming the first bad entry and what to
        enter instead.
    """
    for entry in value or ():
        if not is_valid_host(entry):
            raise InvalidSetting(
                _(
                    "error_zmi_manage_host",
                    default="'${entry}' is not a host name: enter just the "
                    "name, such as manage.example.com or localhost (no "
                    "scheme, port or path), one per line.",
                    mapping={"entry": entry},
                )
            )
    return True


def check_networks(value):
    """Constraint of ``zmi_trusted_proxies``: addresses or networks.

    :raises zope.interface.Invalid: naming the first bad entry and the form
        to use.
    """
    for entry in value or ():
        try:
            ipaddress.ip_network((entry or "").strip(), strict=False)
        except ValueError:
            raise InvalidSetting(
                _(
                    "error_zmi_trusted_proxy",
                    default="'${entry}' is not an IP address or network: "
                    "enter addresses such as 10.0.0.5 or networks such as "
                    "10.0.0.0/24 or fd00::/8, one per line.",
                    mapping={"entry": entry},
                )
            ) from None
    return True


def form_value(data, name):
    """A field's value in the data an invariant checks, else the stored one.

    The control panel form passes every field; a REST ``PATCH`` may pass
    only the changed ones, so the others come from the registry.
    """
    try:
        return getattr(data, name)
    except Exception:  # z3c.form raises NoInputData or AttributeError
        registry = queryUtility(IRegistry)
        return None if registry is None else registry.get(RECORD_PREFIX + name)


def block_needs_manage_hosts(mode, hosts):
    """The rule behind the schema's invariant: no block mode without hosts.

    :raises zope.interface.Invalid: explaining why and what to do.
    """
    if mode == MODE_BLOCK and not [h for h in hosts or () if h.strip()]:
        raise InvalidSetting(
            _(
                "error_zmi_block_without_hosts",
                default="Block mode needs at least one manage host: with an "
                "empty list the management interface would answer nowhere, "
                "and you would lock yourself out. Add the host name you use "
                "for it (for example manage.example.com, or localhost for an "
                "SSH tunnel), or keep report mode.",
            )
        )


@dataclass(frozen=True)
class GuardConfig:
    """The guard's settings of one site (or the Zope root), parsed once.

    ``site`` is the path of the site the settings come from, ``""`` for the
    combined settings that guard the Zope root.
    """

    site: str
    mode: str = MODE_REPORT
    manage_hosts: frozenset = frozenset()
    trusted_proxies: tuple = ()
    status: int = DEFAULT_STATUS
    admin_networks: tuple = ()  # empty: any client may use a manage host

    @property
    def blocks(self):
        """True in block mode (the escape hatch is checked separately)."""
        return self.mode == MODE_BLOCK

    def is_manage_host(self, host):
        return host in self.manage_hosts

    def trusts(self, address):
        """True when ``address`` (a string) is in a trusted proxy network."""
        return in_networks(address, self.trusted_proxies)

    def client_ip(self, remote_addr, forwarded_for):
        """The client's address, believing ``X-Forwarded-For`` only from
        trusted proxies.

        The header is read from the right: each hop that is a trusted proxy
        is skipped, and the first one that is not is the client. A client
        that is not a trusted proxy cannot put anything in front of it.

        :param remote_addr: the address of the TCP peer (``REMOTE_ADDR``).
        :param forwarded_for: the ``X-Forwarded-For`` header, or None.
        :returns: an address as a string.
        """
        client = remote_addr or ""
        if not forwarded_for or not self.trusts(client):
            return client
        for hop in reversed(forwarded_for.split(",")):
            hop = hop.strip()
            try:
                ipaddress.ip_address(hop)
            except ValueError:
                return client
            client = hop
            if not self.trusts(hop):
                return client
        return client

    def allows(self, host, peer, client):
        """Whether a management request may be answered.

        :param host: the host the request names (virtual host or Host
            header), normalised.
        :param peer: the address of the TCP peer that sent the request.
        :param client: the client's address (see :func:`client_of`).
        :returns: True when ``host`` is a manage host and may be believed:
            the peer is a trusted proxy or the client is in the admin
            networks; and, when admin networks are set, the client is in
            one of them.
        """
        if host not in self.manage_hosts:
            return False
        in_admin = in_networks(client, self.admin_networks)
        if not (in_admin or self.trusts(peer)):
            return False
        return in_admin or not self.admin_networks


def in_networks(address, networks):
    """True when ``address`` (a string) lies in one of ``networks``."""
    if not networks or not address:
        return False
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in networks)


def peer_of(environ):
    """The address of the TCP peer of a request, and the client that the
    server itself already worked out from ``X-Forwarded-For``, if any.

    Waitress replaces ``REMOTE_ADDR`` by the client named in
    ``X-Forwarded-For`` when the peer is its ``trusted_proxy``; the peer
    itself is then only known to waitress's channel, which the environ
    reaches through ``waitress.client_disconnected``. With other servers,
    the peer is ``REMOTE_ADDR``. A Unix socket peer is a process on this
    machine, so it counts as loopback.

    :returns: ``(peer, client)``: ``client`` is None unless the server
        replaced ``REMOTE_ADDR``.
    """
    remote = environ.get("REMOTE_ADDR") or ""
    channel = getattr(environ.get("waitress.client_disconnected"), "__self__", None)
    addr = getattr(channel, "addr", None)
    raw = addr[0] if isinstance(addr, tuple) and addr else None
    if not isinstance(raw, str):
        raw = remote
    peer = "127.0.0.1" if raw in ("localhost", "") and addr is not None else raw
    client = remote if remote and remote != raw else None
    return peer, client


def client_of(config, environ, peer, client):
    """The client address of a request, as far as it can be believed: the
    one the server worked out (:func:`peer_of`), else ``X-Forwarded-For``
    read with the site's trusted proxies (:meth:`GuardConfig.client_ip`).
    """
    if client:
        return client
    return config.client_ip(peer, environ.get("HTTP_X_FORWARDED_FOR"))


def _networks(entries):
    networks = []
    for entry in entries or ():
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except (ValueError, AttributeError):
            continue  # invalid values never get past validation
    return tuple(networks)


def _status(value):
    return 403 if str(value) == "403" else DEFAULT_STATUS


def config_from_settings(site_path, snapshot):
    """The :class:`GuardConfig` of a settings snapshot, or None when the
    add-on is not installed there (no ``zmi_mode`` record).
    """
    mode = snapshot.get("zmi_mode")
    if mode is None:
        return None
    return GuardConfig(
        site=site_path,
        mode=MODE_BLOCK if mode == MODE_BLOCK else MODE_REPORT,
        manage_hosts=frozenset(
            normalize_host(h)
            for h in snapshot.get("zmi_manage_hosts") or ()
            if h and h.strip()
        ),
        trusted_proxies=_networks(snapshot.get("zmi_trusted_proxies")),
        status=_status(snapshot.get("zmi_blocked_status")),
        admin_networks=_networks(snapshot.get("zmi_admin_networks")),
    )


def combine(configs):
    """The settings that guard the Zope root, from those of the sites.

    The rule: the root is blocked when at least one site blocks; its manage
    hosts are those of the blocking sites (of all sites when none blocks);
    proxies trusted by any site are trusted; the admin networks are those of
    the chosen sites, and any client when one of them sets none; the
    response is 403 only when every blocking site chose 403, else 404
    (which reveals less).

    :param configs: the :class:`GuardConfig` of every site with the add-on.
    :returns: a :class:`GuardConfig` with ``site=""``, or None for no sites.
    """
    configs = [c for c in configs if c is not None]
    if not configs:
        return None
    blocking = [c for c in configs if c.blocks]
    chosen = blocking or configs
    networks = []
    for config in configs:
        networks.extend(n for n in config.trusted_proxies if n not in networks)
    admin = []
    if all(c.admin_networks for c in chosen):
        for config in chosen:
            admin.extend(n for n in config.admin_networks if n not in admin)
    return GuardConfig(
        site="",
        mode=MODE_BLOCK if blocking else MODE_REPORT,
        manage_hosts=frozenset().union(*(c.manage_hosts for c in chosen)),
        trusted_proxies=tuple(networks),
        status=403 if all(c.status == 403 for c in chosen) else DEFAULT_STATUS,
        admin_networks=tuple(admin),
    )
