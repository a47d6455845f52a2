from collective.securitybp.testing import FUNCTIONAL_TESTING
from collective.securitybp.testing import GUARD_FUNCTIONAL_TESTING
from collective.securitybp.testing import INTEGRATION_TESTING
from pytest_plone import fixtures_factory
import os


# plone.testing's WSGI server layer starts Zope as a server does, which
# starts the history's daily job (see collective.securitybp.history). In
# the test process it would write, two minutes later, into whatever test
# database is then current; the history tests run the job's work directly.
os.environ["SECURITYBP_HISTORY"] = "off"


pytest_plugins = ["pytest_plone"]

globals().update(
    fixtures_factory(
        (
            (FUNCTIONAL_TESTING, "functional"),
            (INTEGRATION_TESTING, "integration"),
        )
    )
)
# The guard's layer adds sites to the database of the layers above: it is set
# up only for its own tests and torn down after them (a layer kept for the
# whole session would show its sites to every other test).
globals().update(
    fixtures_factory(
        ((GUARD_FUNCTIONAL_TESTING, "guard_functional"),), keep_session=False
    )
)
