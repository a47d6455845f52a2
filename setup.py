"""Installer for the collective.securitybp package."""

from pathlib import Path

from setuptools import find_namespace_packages
from setuptools import setup

HERE = Path(__file__).parent
long_description = "\n\n".join(
    [
        (HERE / "README.rst").read_text(encoding="utf-8"),
        (HERE / "CHANGES.rst").read_text(encoding="utf-8"),
    ]
)

setup(
    name="collective.securitybp",
    version="1.0.0a1.dev0",
    description=(
        "Audit and harden a Plone site from inside the running instance, "
        "following Plone's Security Best Practices."
    ),
    long_description=long_description,
    long_description_content_type="text/x-rst",
    classifiers=[
        "Development Status :: 3 - Alpha",
        "Environment :: Web Environment",
        "Framework :: Plone",
        "Framework :: Plone :: 6.1",
        "Framework :: Plone :: 6.2",
        "Framework :: Plone :: Addon",
        "Framework :: Zope",
        "Framework :: Zope :: 5",
        "Intended Audience :: System Administrators",
        "License :: OSI Approved :: GNU General Public License v2 (GPLv2)",
        "Operating System :: OS Independent",
        "Programming Language :: Python",
        "Programming Language :: Python :: 3.10",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
        "Topic :: Security",
    ],
    keywords="Python Plone CMS security audit hardening",
    author="collective.securitybp contributors",
    author_email="collective@plone.org",
    url="https://github.com/collective/collective.securitybp",
    project_urls={
        "Source": "https://github.com/collective/collective.securitybp",
        "Tracker": "https://github.com/collective/collective.securitybp/issues",
    },
    license="GPL version 2",
    packages=find_namespace_packages(where="src", include=["collective.*"]),
    package_dir={"": "src"},
    include_package_data=True,
    zip_safe=False,
    python_requires=">=3.10",
    install_requires=[
        "setuptools",
        "Products.CMFPlone>=6.1",
        "plone.api>=2.0",
        "plone.app.registry",
        "plone.restapi",
        "plone.protect",
        "plone.autoinclude",
        "zope.interface",
        "zope.component",
        "ZODB",
        "Zope>=5.9",
        "packaging",
        "jsonschema",
    ],
    extras_require={
        "test": [
            # The whole Plone distribution, as in an integrator's site.
            "Plone",
            "plone.classicui",
            "plone.app.testing",
            "plone.testing>=8.0",
            "pytest",
            "pytest-plone>=0.5",
            "requests",
            # The documentation site in docs/ (make docs, tests/test_docs.py).
            "Sphinx",
        ],
        "lint": [
            "ruff",
            "zpretty",
            "pyroma",
            "check-manifest",
            "i18ndude",
        ],
    },
    entry_points={
        "z3c.autoinclude.plugin": ["target = plone"],
        "plone.autoinclude.plugin": ["target = plone"],
        "console_scripts": [
            "securitybp = collective.securitybp.cli:main",
        ],
    },
)
