"""The generated proxy rules, run in real nginx, HAProxy and Apache.

Each proxy gets the rules of the public site in front of a small backend on
127.0.0.1 and is asked for ZMI and non-ZMI paths: the ZMI, WebDAV and XML-RPC
must get the configured status from the proxy, everything else must reach
the backend. The manage-host configurations (TLS) are checked for syntax
with a throw-away certificate. A proxy that is not installed is skipped
(Debian: ``apt-get install nginx-light haproxy apache2-bin``).
"""

from collective.securitybp.zmi.config import GuardConfig
from collective.securitybp.zmi.rules import proxy_rules
from pathlib import Path
import http.server
import pytest
import requests
import shutil
import socket
import subprocess
import threading
import time


APACHE_MODULES = Path("/usr/lib/apache2/modules")
JSON = {"Accept": "application/json"}
# The guard's corpus, less what a proxy cannot see (form directives in POST
# bodies, management methods without the manage prefix).
BLOCKED = [
    ("GET", "/manage_main", {}),
    ("GET", "/manage", {}),
    ("GET", "/folder/manage", {}),
    ("GET", "/folder/manage_workspace", {}),
    ("GET", "/manageProperties", {}),
    ("GET", "/manage_addProduct/PageTemplates/manage_addPageTemplateForm", {}),
    ("GET", "/manage_main/", {}),
    ("GET", "/%6danage_main", {}),
    ("GET", "/@@manage_interfaces", {}),
    ("GET", "/++view++manage_interfaces", {}),
    ("GET", "/aq_parent/manage_main", {}),
    ("GET", "/folder/acl_users/manage_main", {}),
    ("GET", "/Control_Panel/Database", {}),
    ("GET", "/misc_/OFSP/dtmldoc.gif", {}),
    ("GET", "/p_/zopelogo_jpg", {}),
    ("GET", "/++resource++zmi/zmi_base.css", {}),
    ("GET", "/?manage_main:method=1", {}),
    ("GET", "/?:action=manage_main", {}),
    ("GET", "/?manage_main:default_method=1", {}),
    ("GET", "/?:default_action=manage_main", {}),
    ("GET", "/?manage_main%3Amethod=1", {}),
    ("GET", "/?manage_main%3A%6Dethod=1", {}),
    ("GET", "/?%3A%61ction=manage_main", {}),
    ("GET", "/folder?x=1&manage_delObjects:method=1&ids:list=a", {}),
    ("POST", "/?manage_main:method=1", {}),
    ("PROPFIND", "/", {}),
    ("MKCOL", "/new", {}),
    ("LOCK", "/front-page", {}),
    ("PUT", "/new-file", {}),
    ("DELETE", "/front-page", {}),
    ("DELETE", "/front-page", {"Accept": "text/html"}),
]
PASSED = [
    ("GET", "/", {}),
    ("GET", "/front-page", {}),
    ("GET", "/@@manage-portlets", {}),
    ("GET", "/management", {}),
    ("GET", "/manager-notes", {}),
    ("GET", "/@@overview-controlpanel", {}),
    ("GET", "/++api++/@controlpanels", {}),
    ("GET", "/@@search?SearchableText=manage_main:method", {}),
    ("GET", "/@@search?portal_type:list=Document", {}),
    ("GET", "/@@search?portal_type%3Alist=Document&Subject%3Alist=caf%C3%A9", {}),
    ("PATCH", "/@controlpanels/securitybp", JSON),
    ("DELETE", "/front-page", JSON),
    ("PUT", "/front-page", JSON),
]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Backend(http.server.BaseHTTPRequestHandler):
    def answer(self):
        body = f"backend {self.command} {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PROPFIND = do_MKCOL = answer
    do_LOCK = do_PUT = answer

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def backend():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Backend)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def rules(backend, status=404):
    config = GuardConfig(
        "/plone", "block", frozenset({"manage.example.com", "localhost"}), (), status
    )
    return {
        rule_set.id: rule_set.text
        for rule_set in proxy_rules(config, "www.example.com", "plone", backend)
    }


def nginx_config(tmp_path, text, port):
    http_block, server = text.split("server {", 1)
    server = "server {" + server.replace("listen 443 ssl;", f"listen 127.0.0.1:{port};")
    return (
        f"error_log stderr; pid {tmp_path}/nginx.pid; daemon off;\nevents {{}}\n"
        f"http {{\naccess_log off;\n{http_block}\n{server}\n}}\n"
    )


def haproxy_config(tmp_path, text, port, backend):
    frontend, backend_rules = text.split("# In its backend", 1)
    backend_rules = backend_rules.split("\n", 1)[1]

    def indent(lines):
        return "\n".join(f"    {line}" for line in lines.splitlines())

    return (
        "defaults\n    mode http\n    timeout connect 5s\n"
        "    timeout client 5s\n    timeout server 5s\n"
        f"frontend public\n    bind 127.0.0.1:{port}\n{indent(frontend)}\n"
        "    default_backend zope\n"
        f"backend zope\n{indent(backend_rules)}\n    server zope {backend}\n"
    )


def apache_config(tmp_path, body, listen, ssl=False):
    modules = [
        "mpm_event",
        "authz_core",
        "authz_host",
        "rewrite",
        "proxy",
        "proxy_http",
        "headers",
    ] + (["ssl"] if ssl else [])
    loads = "\n".join(
        f"LoadModule {name}_module {APACHE_MODULES}/mod_{name}.so" for name in modules
    )
    return (
        f"ServerRoot {tmp_path}\nDefaultRuntimeDir {tmp_path}\n"
        f"PidFile {tmp_path}/httpd.pid\nErrorLog {tmp_path}/error.log\n"
        f"ServerName localhost\n{loads}\nListen {listen}\n{body}\n"
    )


def wait_for(port, process):
    for _ in range(100):
        if process.poll() is not None:
            raise AssertionError(process.communicate()[1])
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError("the proxy did not start")


def need(*programs):
    missing = [p for p in programs if shutil.which(p) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed")


def start(tmp_path, proxy, backend, port, status):
    text = rules(backend, status)
    config = tmp_path / f"{proxy}.conf"
    if proxy == "nginx":
        need("nginx")
        config.write_text(nginx_config(tmp_path, text["nginx"], port))
        command = ["nginx", "-p", str(tmp_path), "-c", str(config)]
    elif proxy == "haproxy":
        need("haproxy")
        config.write_text(haproxy_config(tmp_path, text["haproxy"], port, backend))
        command = ["haproxy", "-db", "-f", str(config)]
    else:
        need("apache2")
        body = f"<VirtualHost 127.0.0.1:{port}>\n{text['apache']}\n</VirtualHost>"
        config.write_text(apache_config(tmp_path, body, f"127.0.0.1:{port}"))
        command = ["apache2", "-f", str(config), "-DFOREGROUND"]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    wait_for(port, process)
    return process


@pytest.mark.parametrize("status", [404, 403])
@pytest.mark.parametrize("proxy", ["nginx", "haproxy", "apache"])
def test_proxy_blocks_what_the_guard_blocks(tmp_path, backend, proxy, status):
    port = free_port()
    process = start(tmp_path, proxy, backend, port, status)
    try:
        url = f"http://127.0.0.1:{port}"
        for method, path, headers in BLOCKED:
            response = requests.request(method, url + path, headers=headers, timeout=10)
            assert response.status_code == status, (method, path)
            assert "backend" not in response.text
        xmlrpc = requests.post(
            url + "/", data="<x/>", headers={"Content-Type": "text/xml"}, timeout=10
        )
        assert xmlrpc.status_code == status
        for method, path, headers in PASSED:
            response = requests.request(method, url + path, headers=headers, timeout=10)
            assert response.status_code == 200, (method, path)
            assert response.text == (
                f"backend {method} /VirtualHostBase/https/www.example.com:443/"
                f"plone/VirtualHostRoot{path}"
            )
        login = requests.post(url + "/@login", json={}, timeout=10)
        assert login.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def certificate(tmp_path):
    need("openssl")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=manage.example.com",
            "-keyout",
            str(tmp_path / "manage.example.com.key"),
            "-out",
            str(tmp_path / "manage.example.com.pem"),
        ],
        check=True,
        capture_output=True,
    )
    return tmp_path


def local_paths(text, tmp_path):
    return text.replace("/etc/ssl/certs/", f"{tmp_path}/").replace(
        "/etc/ssl/private/", f"{tmp_path}/"
    )


def test_nginx_manage_host_syntax(certificate, backend):
    need("nginx")
    text = local_paths(rules(backend)["manage-nginx"], certificate)
    text = text.replace("listen 443 ssl;", f"listen 127.0.0.1:{free_port()} ssl;")
    config = certificate / "manage.conf"
    config.write_text(
        f"error_log stderr; pid {certificate}/nginx.pid;\n"
        f"events {{}}\nhttp {{\n{text}\n}}\n"
    )
    result = subprocess.run(
        ["nginx", "-t", "-p", str(certificate), "-c", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_apache_manage_host_syntax(certificate, backend):
    need("apache2")
    listen = f"127.0.0.1:{free_port()}"
    text = local_paths(rules(backend)["manage-apache"], certificate)
    text = text.replace("<VirtualHost *:443>", f"<VirtualHost {listen}>")
    config = certificate / "manage.conf"
    config.write_text(apache_config(certificate, text, listen, ssl=True))
    result = subprocess.run(
        ["apache2", "-t", "-f", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
