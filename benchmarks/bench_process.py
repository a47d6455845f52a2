"""How long the process and files checks (SBP-PROC-*) take on a big install.

Builds, in a temporary directory, an installation with 300 distributions in
a site-packages directory (Plone, Products.CMFPlone, Zope and
collective.securitybp among them, five of them editable checkouts) and a
FileStorage with 100,000 blob files in ZODB's bushy layout, with modes that
let the blob sample run its full length. Then times, in one run:

- the whole family: discovery (``installation_layout``) and every check;
- a full walk that stats every file of site-packages and of the blob
  directory, as an audit that walks the whole tree does.

The family must finish in under 1 s. Run with the virtualenv's Python::

    .venv/bin/python benchmarks/bench_process.py
"""

from collective.securitybp.checks import process
from collective.securitybp.processinfo import installation_layout
from pathlib import Path
from statistics import median
from ZODB.blob import BushyLayout
from ZODB.utils import p64
from Zope2.Startup.options import ZopeWSGIOptions
import os
import shutil
import tempfile
import time


DISTRIBUTIONS = 300
BLOBS = 100_000
EDITABLE = 5
CORE = ("Plone", "Products.CMFPlone", "Zope", "collective.securitybp")
MODULES_PER_PACKAGE = 20
RUNS = 5
LIMIT = 1.0  # seconds, from the issue

CHECKS = (
    process.RunsAsRoot(),
    process.OwnsCode(),
    process.CodeWritable(),
    process.DataNotWritable(),
    process.DataReadableByOthers(),
    process.GroupWritableCode(),
    process.LeftoverInituser(),
    process.EmergencyUserFile(),
    process.CredentialsReadable(),
    process.ProcessUnknown(),
)


def build_site_packages(root):
    site_packages = root / "site-packages"
    names = list(CORE) + [f"dist{n}" for n in range(DISTRIBUTIONS - len(CORE))]
    for number, name in enumerate(names):
        package = name.replace(".", "/")
        info = site_packages / f"{name}-1.0.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Name: {name}\nVersion: 1.0\n")
        files = [f"{package}/__init__.py"] + [
            f"{package}/module{m}.py" for m in range(MODULES_PER_PACKAGE)
        ]
        (site_packages / package).mkdir(parents=True, exist_ok=True)
        for file in files:
            (site_packages / file).write_text("")
        (info / "RECORD").write_text("".join(f"{file},,\n" for file in files))
        if number >= len(CORE) and number < len(CORE) + EDITABLE:
            checkout = root / "src" / name
            checkout.mkdir(parents=True)
            (checkout / "setup.py").write_text("")
            (info / "direct_url.json").write_text(
                f'{{"url": "file://{checkout}", "dir_info": {{"editable": true}}}}'
            )
    return site_packages


def build_instance(root):
    instance = root / "instance"
    var = instance / "var"
    (var / "filestorage").mkdir(parents=True)
    (var / "filestorage/Data.fs").write_text("FS21")
    blobs = var / "blobstorage"
    blobs.mkdir()
    (blobs / ".layout").write_text("bushy")
    layout = BushyLayout()
    for oid in range(1, BLOBS + 1):
        directory = blobs / layout.oid_to_path(p64(oid))
        directory.mkdir(parents=True)
        blob = directory / "0x03e1f4c2a3b4c5d6.blob"
        blob.write_bytes(b"x")
        blob.chmod(0o444)
    (instance / "etc").mkdir()
    conf = instance / "etc/zope.conf"
    conf.write_text(
        f"instancehome {instance}\nclienthome {var}\n"
        "<zodb_db main>\n  <filestorage>\n"
        f"    path {var}/filestorage/Data.fs\n    blob-dir {blobs}\n"
        "  </filestorage>\n  mount-point /\n</zodb_db>\n"
    )
    return conf, blobs


def family(configuration, paths):
    layout = installation_layout(configuration=configuration, paths=paths)
    findings = [f for check in CHECKS for f in check.inspect(layout)]
    return layout, findings


def full_walk(*tops):
    count = 0
    for top in tops:
        for directory, _dirs, files in os.walk(top):
            for name in files:
                os.stat(os.path.join(directory, name))
                count += 1
    return count


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - start, result


def main():
    root = Path(tempfile.mkdtemp(prefix="bench-process-"))
    root.chmod(0o755)
    try:
        start = time.perf_counter()
        site_packages = build_site_packages(root)
        conf, blobs = build_instance(root)
        print(
            f"built {DISTRIBUTIONS} distributions and {BLOBS} blob files in "
            f"{time.perf_counter() - start:.1f} s"
        )
        configuration = ZopeWSGIOptions(configfile=str(conf))().configroot
        paths = [str(site_packages)]
        runs = [timed(family, configuration, paths) for _run in range(RUNS)]
        seconds = [elapsed for elapsed, _result in runs]
        layout, findings = runs[-1][1]
        sampled, _exposed = process.sample_blobs(blobs)
        walk_seconds, walked = timed(full_walk, site_packages, blobs)
        this_venv, _result = timed(family, None, None)
        family_s = median(seconds)
        print(
            f"process family (discovery + {len(CHECKS)} checks), median of "
            f"{RUNS}: {family_s * 1000:.0f} ms (min {min(seconds) * 1000:.0f}, "
            f"max {max(seconds) * 1000:.0f}); {len(findings)} findings, "
            f"{sampled} blob files sampled"
        )
        print(f"full walk stat'ing {walked} files: {walk_seconds * 1000:.0f} ms")
        print(f"ratio full walk / family: {walk_seconds / family_s:.1f}x")
        print(
            f"family on this virtualenv's own installation: {this_venv * 1000:.0f} ms"
        )
        verdict = "OK" if max(seconds) < LIMIT else "TOO SLOW"
        print(f"limit {LIMIT:.0f} s: {verdict}")
        assert layout.databases and layout.databases[0].blob_dir == blobs
    finally:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
