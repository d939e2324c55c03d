"""The HTTP layer under the twilio Client: `PooledTwilioHttp`, a `twilio.http.HttpClient` that
sends over a urllib3 pool.

Why: a worker's CPU per text is mostly the twilio client's HTTP layer. Against the fake Twilio,
`client.messages.create()` costs about 2.0 ms of thread CPU with twilio's stock
`TwilioHttpClient` (requests; 0.6 ms of it is `merge_environment_settings` reading the proxy
variables again on every request) and about 0.7 ms over a bare urllib3 pool. Twilio supports a
custom client (`Client(..., http_client=...)`); this one keeps what the stock one gave us:
keep-alive, the proxy variables (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY, read when it is
built and matched once per host), the CA bundle (REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE, else
certifi's), no redirects followed, and twilio's request log. It never resends a request itself:
the outbox decides about retries, knowing whether a text may have gone (`ChannelError`).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from typing import Any
from urllib.parse import urlencode, urlsplit
from urllib.request import getproxies

import certifi
from requests.utils import get_auth_from_url, select_proxy, should_bypass_proxies
from twilio.http import HttpClient
from twilio.http.response import Response
from urllib3 import PoolManager, ProxyManager, Timeout
from urllib3.exceptions import ConnectTimeoutError, HTTPError, LocationValueError, ProxyError
from urllib3.util import make_headers

from bot.errors import ChannelError

TWILIO_LOGGER = logging.getLogger("twilio.http_client")  # the stock client's, masked and quiet
DEFAULT_CONNECTIONS = 16  # connections kept per host: one per thread sending at once
JSON_TYPES = frozenset({"application/json", "application/scim+json"})  # twilio's JSON APIs


class PooledTwilioHttp(HttpClient):  # type: ignore[misc]  # twilio ships no type hints
    """Twilio's API over pooled keep-alive connections; a transport failure is a
    `ChannelError` that says whether the request may have reached Twilio."""

    def __init__(
        self,
        *,
        timeout: float | None = None,
        connections: int = DEFAULT_CONNECTIONS,
        logger: logging.Logger = TWILIO_LOGGER,
    ) -> None:
        super().__init__(logger, False, timeout)
        ca_bundle = (
            os.environ.get("REQUESTS_CA_BUNDLE")
            or os.environ.get("CURL_CA_BUNDLE")
            or certifi.where()
        )
        self._pool_options: dict[str, Any] = {
            "maxsize": connections,
            "block": False,  # a burst past `connections` opens more, then lets them go
            "retries": False,  # never resend a POST: the outbox retries, knowing what it risks
            "cert_reqs": "CERT_REQUIRED",
            ("ca_cert_dir" if os.path.isdir(ca_bundle) else "ca_certs"): ca_bundle,
        }
        self._direct = PoolManager(**self._pool_options)
        self._environ_proxies = getproxies()  # read once: requests reads them per request
        self._proxied: dict[str, ProxyManager] = {}  # by proxy URL
        self._routes: dict[tuple[str, str], PoolManager] = {}  # by (scheme, host:port)
        self._routes_lock = threading.Lock()
        self._default_timeout = self._timeout(timeout)

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        """Send one request and read the whole answer; redirects are returned, not followed."""
        if timeout is not None and timeout <= 0:
            raise ValueError(timeout)
        method = method.upper()
        headers = dict(headers or {})
        if self.logger.isEnabledFor(logging.INFO):  # its lines cost CPU even when dropped
            self.log_request({"method": method, "url": url, "params": params, "headers": headers})
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params, doseq=True)
        if auth:
            headers.update(make_headers(basic_auth=f"{auth[0]}:{auth[1]}"))
        try:
            answer = self._route(url).request(
                method,
                url,
                body=_body(data, headers),
                headers=headers,
                timeout=self._default_timeout if timeout is None else self._timeout(timeout),
                redirect=False,
                retries=False,
            )
        except HTTPError as exc:
            if _never_sent(exc):
                raise ChannelError(f"could not reach Twilio: {exc}", retryable=True) from None
            raise ChannelError(
                f"lost the connection to Twilio: {exc}", retryable=True, maybe_sent=True
            ) from None
        response = Response(answer.status, answer.data.decode("utf-8", "replace"), answer.headers)
        if self.logger.isEnabledFor(logging.INFO):
            self.log_response(response.status_code, response)
        return response

    def close(self) -> None:
        """Let go of every pooled connection; a later request opens new ones."""
        self._direct.clear()
        for manager in list(self._proxied.values()):
            manager.clear()

    def _route(self, url: str) -> PoolManager:
        """The pool for the URL's host, direct or through its proxy, chosen on its first use
        the way requests chooses (NO_PROXY with domains and CIDR ranges, then the scheme)."""
        parts = urlsplit(url)
        origin = (parts.scheme, parts.netloc)
        route = self._routes.get(origin)
        if route is None:
            with self._routes_lock:
                route = self._routes.get(origin) or self._new_route(url)
                self._routes[origin] = route
        return route

    def _new_route(self, url: str) -> PoolManager:
        if should_bypass_proxies(url, no_proxy=self._environ_proxies.get("no")):
            return self._direct
        proxy = select_proxy(url, self._environ_proxies)
        if not proxy:
            return self._direct
        if "://" not in proxy:
            proxy = f"http://{proxy}"  # requests reads "proxy:3128" as http://proxy:3128
        if proxy not in self._proxied:
            user, password = get_auth_from_url(proxy)
            proxy_headers = make_headers(proxy_basic_auth=f"{user}:{password}") if user else None
            try:
                self._proxied[proxy] = ProxyManager(
                    proxy, proxy_headers=proxy_headers, **self._pool_options
                )
            except ValueError as exc:  # e.g. socks://, which needs PySocks
                raise ChannelError(
                    f"cannot use the proxy set in the environment: {exc}", retryable=True
                ) from None
        return self._proxied[proxy]

    @staticmethod
    def _timeout(seconds: float | None) -> Timeout:
        return Timeout(connect=seconds, read=seconds)


def _never_sent(exc: HTTPError) -> bool:
    """True when the request cannot have been written: no connection to Twilio or to the
    proxy (refused, DNS, connect timeout; NewConnectionError and NameResolutionError are
    ConnectTimeoutErrors), or a URL that cannot be sent. Anything later (a read timeout, a
    reset, a broken answer, a failed TLS handshake) may have reached Twilio."""
    if isinstance(exc, ProxyError):  # urllib3 also says so of a proxy that hung up later
        return isinstance(exc.original_error, ConnectTimeoutError)
    return isinstance(exc, (ConnectTimeoutError, LocationValueError))


def _body(data: dict[str, object] | None, headers: dict[str, str]) -> bytes | None:
    """The form (or JSON, for twilio's JSON APIs) as bytes; lists repeat their parameter."""
    if headers.get("Content-Type") in JSON_TYPES:
        return None if data is None else json.dumps(data).encode("utf-8")
    if not data:
        return None
    headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    return urlencode(data, doseq=True).encode("utf-8")
