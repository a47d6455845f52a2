from collective.securitybp import PACKAGE_NAME

import pytest


class TestInstall:
    @pytest.fixture(autouse=True)
    def _setup(self, integration):
        self.portal = integration["portal"]

    def test_installed(self, installer):
        assert installer.is_product_installed(PACKAGE_NAME) is True
