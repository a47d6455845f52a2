"""``@@securitybp-proxy-rules``: the guard's state, its evidence and the
proxy rules generated from its settings (``?format=text`` downloads them)."""

from collective.securitybp.browser.report import MANAGE_PERMISSION
from collective.securitybp.zmi import evidence
from collective.securitybp.zmi.config import guard_switched_off
from collective.securitybp.zmi.config import GuardConfig
from collective.securitybp.zmi.config import LOOPBACK_HOSTS
from collective.securitybp.zmi.config import normalize_host
from collective.securitybp.zmi.guard import site_config
from collective.securitybp.zmi.rules import proxy_rules
from collective.securitybp.zmi.rules import ssh_advice
from plone import api
from Products.Five.browser import BrowserView
from Products.Five.browser.pagetemplatefile import ViewPageTemplateFile
from urllib.parse import urlparse
from zope.i18n import translate


MAX_SHOWN = 50
TEXT_FILENAME = "securitybp-proxy-rules.txt"


class ProxyRulesView(BrowserView):
    """The proxy rules page of the management interface guard."""

    index = ViewPageTemplateFile("templates/proxy_rules.pt")

    def __call__(self):
        path = "/".join(self.context.getPhysicalPath())
        self.config = site_config(self.context) or GuardConfig(site=path)
        self.switched_off = guard_switched_off()
        backend = self.backend()
        self.rules = proxy_rules(
            self.config, self.public_host(), path.lstrip("/"), backend
        )
        self.advice = ssh_advice(backend, self.config.manage_hosts & LOOPBACK_HOSTS)
        self.requests = evidence.recent(site=path)[:MAX_SHOWN]
        response = self.request.response
        response.setHeader("Cache-Control", "no-store")
        if self.request.form.get("format") == "text":
            response.setHeader("Content-Type", "text/plain; charset=utf-8")
            response.setHeader(
                "Content-Disposition", f'attachment; filename="{TEXT_FILENAME}"'
            )
            return self.as_text()
        return self.index()

    def public_host(self):
        """The host this page was asked for, unless it is a manage host."""
        host = normalize_host(urlparse(self.request.get("SERVER_URL", "")).netloc)
        if not host or host in LOOPBACK_HOSTS or self.config.is_manage_host(host):
            return None
        return host

    def backend(self):
        """``host:port`` of this Zope as a proxy on the same machine sees it."""
        port = self.request.environ.get("SERVER_PORT") or "8080"
        return f"127.0.0.1:{port}"

    def can_manage(self):
        return api.user.has_permission(MANAGE_PERMISSION, obj=self.context)

    def sorted_hosts(self):
        return sorted(self.config.manage_hosts)

    def networks(self):
        return [str(network) for network in self.config.trusted_proxies]

    def as_text(self):
        """Every rule set and the SSH advice as one text file."""
        title = translate(self.context.Title(), context=self.request)
        lines = [f"# Proxy rules for the management interface of {title}", ""]
        for rule_set in self.rules:
            heading = translate(rule_set.title, context=self.request)
            lines += [f"# ===== {heading} =====", rule_set.text]
        lines.append("# ===== SSH =====")
        for number, message in enumerate(self.advice, start=1):
            lines.append(f"# {number}. {translate(message, context=self.request)}")
        return "\n".join(lines) + "\n"
