"""What the ZMI guard adds to a request that is not for the ZMI.

The guard's only work on such a request is its ``IPubStart`` subscriber,
which looks at the request line and returns. This script builds real
``WSGIRequest`` objects for typical requests of a public site (a page
through a virtual-hosting URL, a REST call, a static resource, a form POST)
and times with ``timeit``, in one run:

- the subscriber alone, per request;
- ``notify(PubStart(request))`` with the subscriber registered and without
  it, alternating, so the difference is what publishing a request pays
  (dispatch included);
- for comparison, the subscriber on ZMI requests (which only marks them; the
  decision comes later, for those requests only).

The guard must add under 10 µs to a non-ZMI request. Run with the
virtualenv's Python::

    .venv/bin/python benchmarks/bench_zmi_guard.py
"""

from collective.securitybp.zmi.guard import on_pub_start
from io import BytesIO
from statistics import median
from zope.component import getGlobalSiteManager
from zope.component import provideHandler
from zope.event import notify
from ZPublisher.HTTPRequest import WSGIRequest
from ZPublisher.HTTPResponse import WSGIResponse
from ZPublisher.interfaces import IPubStart
from ZPublisher.pubevents import PubStart
import sys
import time
import timeit
import zope.component.event  # noqa: F401 (zope.event dispatches to handlers)


LIMIT_MICROSECONDS = 10.0
NUMBER = 20_000
ROUNDS = 7
PUBLIC = "/VirtualHostBase/https/www.example.com:443/Plone/VirtualHostRoot"
NON_ZMI = [
    ("page", "GET", f"{PUBLIC}/news/2024/annual-report", ""),
    ("rest", "GET", f"{PUBLIC}/++api++/news/@search", ""),
    ("static", "GET", f"{PUBLIC}/++plone++static/plone-compiled.css", ""),
    ("form", "POST", f"{PUBLIC}/contact-info", "application/x-www-form-urlencoded"),
]
ZMI = [
    ("zmi page", "GET", f"{PUBLIC}/news/manage_main", ""),
    ("webdav", "PROPFIND", f"{PUBLIC}/news", ""),
]


def make_request(method, path, content_type):
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8080",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8080",
        "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
        "HTTP_ACCEPT": "text/html,application/xhtml+xml",
        "HTTP_ACCEPT_LANGUAGE": "en-US,en;q=0.5",
        "HTTP_X_FORWARDED_FOR": "203.0.113.7",
        "HTTP_COOKIE": "I18N_LANGUAGE=en",
        "wsgi.url_scheme": "http",
        "wsgi.input": BytesIO(b""),
    }
    if content_type:
        environ["CONTENT_TYPE"] = content_type
    return WSGIRequest(environ["wsgi.input"], environ, WSGIResponse())


def per_call(statement, number=NUMBER):
    """Median µs per call over ROUNDS repeats."""
    times = timeit.repeat(statement, number=number, repeat=ROUNDS)
    return median(times) / number * 1e6


def main():
    gsm = getGlobalSiteManager()
    worst = 0.0
    print(f"timeit: {NUMBER} calls x {ROUNDS} repeats, median per call")
    print(
        f"{'request':10} {'subscriber':>11} {'notify+guard':>13} "
        f"{'notify':>8} {'added':>8}"
    )
    for name, method, path, content_type in NON_ZMI:
        request = make_request(method, path, content_type)
        event = PubStart(request)
        alone = per_call(lambda event=event: on_pub_start(event))
        with_guard, without = [], []
        for _ in range(ROUNDS):  # alternate: registered, unregistered
            provideHandler(on_pub_start, (IPubStart,))
            with_guard.append(per_call(lambda event=event: notify(event), NUMBER // 4))
            gsm.unregisterHandler(on_pub_start, (IPubStart,))
            without.append(per_call(lambda event=event: notify(event), NUMBER // 4))
        added = median(with_guard) - median(without)
        worst = max(worst, alone, added)
        assert "traverse" not in request.__dict__, "a non-ZMI request was marked"
        print(
            f"{name:10} {alone:9.3f}µs {median(with_guard):11.3f}µs "
            f"{median(without):6.3f}µs {added:6.3f}µs"
        )
    for name, method, path, content_type in ZMI:
        runs = []
        for _ in range(ROUNDS):  # marking changes a request: fresh ones each time
            events = [
                PubStart(make_request(method, path, content_type)) for _ in range(2000)
            ]
            started = time.perf_counter()
            for event in events:
                on_pub_start(event)
            runs.append((time.perf_counter() - started) / len(events) * 1e6)
            assert all("traverse" in e.request.__dict__ for e in events)
        print(f"{name:10} {median(runs):9.3f}µs  (marks the request)")
    verdict = "OK" if worst < LIMIT_MICROSECONDS else "TOO SLOW"
    print(
        f"worst cost on a non-ZMI request: {worst:.3f} µs "
        f"(limit {LIMIT_MICROSECONDS:.0f} µs): {verdict}"
    )
    return 0 if worst < LIMIT_MICROSECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
