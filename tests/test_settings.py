"""The cached settings of the hot paths."""

from collective.securitybp.settings import get_settings
from collective.securitybp.settings import STAMP_KEY
from plone import api
from zope.annotation.interfaces import IAnnotations
from zope.component.hooks import setSite
import transaction


def test_snapshot_has_values(portal):
    settings = get_settings(portal)
    assert settings.get("fail_on") == "high"


def test_cached_until_a_record_changes(portal):
    first = get_settings(portal)
    assert get_settings(portal) is first
    api.portal.set_registry_record("collective.securitybp.fail_on", "low")
    second = get_settings(portal)
    assert second is not first
    assert second.get("fail_on") == "low"
    assert get_settings(portal) is second


def test_derived_values_computed_once(portal):
    calls = []

    def factory(snapshot):
        calls.append(1)
        return snapshot.get("fail_on").upper()

    settings = get_settings(portal)
    assert settings.derived("upper", factory) == "HIGH"
    assert settings.derived("upper", factory) == "HIGH"
    assert calls == [1]


def test_other_records_do_not_invalidate(portal):
    first = get_settings(portal)
    api.portal.set_registry_record("plone.site_title", "Elsewhere")
    assert get_settings(portal) is first


def test_broken_site_never_raises(portal):
    assert get_settings(object()).values == {}


def test_uninstall_leaves_no_stamp(portal, installer):
    from plone.app.testing import setRoles
    from plone.app.testing import TEST_USER_ID

    setRoles(portal, TEST_USER_ID, ["Manager"])
    api.portal.set_registry_record("collective.securitybp.fail_on", "low")
    assert STAMP_KEY in IAnnotations(portal)
    installer.uninstall_product("collective.securitybp")
    assert STAMP_KEY not in IAnnotations(portal)
    assert get_settings(portal).get("fail_on") is None


def test_change_seen_by_another_connection(functional):
    """Another thread or ZEO client sees a change at its next transaction."""
    app = functional["app"]
    portal = functional["portal"]
    db = app._p_jar.db()
    manager = transaction.TransactionManager()
    other = db.open(transaction_manager=manager)
    try:
        other_portal = other.root()["Application"][portal.getId()]
        setSite(other_portal)
        assert get_settings(other_portal).get("fail_on") == "high"
        setSite(portal)
        api.portal.set_registry_record("collective.securitybp.fail_on", "critical")
        transaction.commit()
        manager.begin()  # the other connection's next transaction
        setSite(other_portal)
        assert get_settings(other_portal).get("fail_on") == "critical"
    finally:
        setSite(portal)
        manager.abort()
        other.close()
