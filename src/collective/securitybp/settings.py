"""Cached settings for the hot paths (header subscriber, ZMI guard).

The hot paths must not read the registry on every request. They call
:func:`get_settings`, which returns a frozen :class:`SettingsSnapshot` of all
records under ``collective.securitybp.``; it is rebuilt only when a record
changed.

How a change is noticed everywhere:

- Every added, modified or removed record of the add-on bumps a small
  persistent :class:`SettingsStamp` kept in the site's annotations, in the same
  transaction as the change.
- :func:`get_settings` compares the stamp it sees with the one the cached
  snapshot was built from. Each thread reads the stamp through its own ZODB
  connection, and every ZEO client gets the new stamp by ZODB invalidation at
  its next transaction: so other threads and other processes pick the change
  up on their next request, without a registry lookup.

Reading the stamp is an attribute lookup on an object that stays in the
connection's cache; nothing is written on a request.
"""

from Acquisition import aq_base
from collective.securitybp import logger
from persistent import Persistent
from plone.registry.interfaces import IRegistry
from types import MappingProxyType
from zope.component import queryUtility
import threading
import uuid


PREFIX = "collective.securitybp."
STAMP_KEY = "collective.securitybp.settings-stamp"

_lock = threading.Lock()
_cache = {}  # site path -> SettingsSnapshot


class SettingsStamp(Persistent):
    """A counter bumped whenever one of the add-on's records changes."""

    def __init__(self):
        self.serial = 0


class SettingsSnapshot:
    """Frozen values of the add-on's records, plus values derived from them.

    ``values`` maps record names without the prefix (``"fail_on"``) to values.
    ``derived(name, factory)`` computes a value from the snapshot once and
    keeps it as long as the snapshot lives; a hot path uses it to parse its
    settings once per change instead of once per request.
    """

    __slots__ = ("serial", "values", "_derived")

    def __init__(self, serial, values):
        self.serial = serial
        self.values = MappingProxyType(dict(values))
        self._derived = {}

    def get(self, name, default=None):
        return self.values.get(name, default)

    def derived(self, name, factory):
        try:
            return self._derived[name]
        except KeyError:
            value = self._derived[name] = factory(self)
            return value


EMPTY = SettingsSnapshot(None, {})


def _stamp_serial(site):
    annotations = getattr(site, "__annotations__", None)
    if annotations is None:
        return None
    stamp = annotations.get(STAMP_KEY)
    return None if stamp is None else stamp.serial


def _registry(site):
    """The site's registry, found without the component lookup: from the
    management guard, ``site`` may be another site than the current one,
    whose local utilities five.localsitemanager cannot wrap."""
    registry = getattr(aq_base(site), "portal_registry", None)
    if registry is not None and IRegistry.providedBy(registry):
        return registry
    return queryUtility(IRegistry, context=site)


def _read_records(site):
    registry = _registry(site)
    if registry is None:
        return {}
    values = {}
    for name in registry.records.keys(PREFIX, PREFIX + "\uffff"):
        try:
            values[name[len(PREFIX) :]] = registry.records[name].value
        except Exception:  # a broken record is left out and logged once
            logger.warning("Cannot read the registry record %s; ignoring it.", name)
    return values


def get_settings(site):
    """The cached settings of ``site``; :data:`EMPTY` when none can be read.

    Never raises: the hot paths call it for every response.
    """
    try:
        serial = _stamp_serial(site)
        key = "/".join(site.getPhysicalPath())
        cached = _cache.get(key)
        if cached is not None and cached.serial == serial and serial is not None:
            return cached
        snapshot = SettingsSnapshot(serial, _read_records(site))
        with _lock:
            _cache[key] = snapshot
        return snapshot
    except Exception:
        logger.exception("Cannot read the settings of collective.securitybp.")
        return EMPTY


def bump(site):
    """Mark the settings of ``site`` as changed (called in the changing
    transaction)."""
    from zope.annotation.interfaces import IAnnotations

    annotations = IAnnotations(site)
    stamp = annotations.get(STAMP_KEY)
    if stamp is None:
        stamp = annotations[STAMP_KEY] = SettingsStamp()
    # A fresh token, not a counter: a change in a transaction that is then
    # aborted must not leave a cached snapshot whose serial the next
    # committed change would reuse.
    stamp.serial = uuid.uuid4().int


def record_changed(event):
    """Subscriber for plone.registry's record events."""
    record = getattr(event, "record", None)
    name = getattr(record, "__name__", "") or ""
    if not name.startswith(PREFIX):
        return
    from zope.component.hooks import getSite

    site = getSite()
    if site is None or getattr(site, "getPhysicalPath", None) is None:
        return
    try:
        from plone.base.interfaces import IPloneSiteRoot

        if not IPloneSiteRoot.providedBy(site):
            from Products.CMFCore.utils import getToolByName

            site = getToolByName(site, "portal_url").getPortalObject()
        bump(site)
    except Exception:
        logger.exception(
            "Cannot mark the settings of collective.securitybp as changed."
        )


def clear_cache():
    """Forget every cached snapshot (tests)."""
    with _lock:
        _cache.clear()
