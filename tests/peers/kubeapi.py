"""A tiny Kubernetes API client for the test rig: urllib + json, nothing
from PyPI.

    kube = Kube(url, token=..., ca=...)
    kube.create({"apiVersion": "v1", "kind": "ConfigMap", ...})
    kube.get("v1", "ConfigMap", "name", "ns")
    kube.patch("v1", "Pod", "name", "ns", {"metadata": {...}})
    for ev in kube.watch("v1", "Pod", "ns", timeout=30): ...

Kinds are mapped to their REST paths through the API's discovery documents
(so CRDs work too, once established). Errors raise ApiError with the HTTP
status and the Status object's reason and message.
"""
import json
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request


class ApiError(Exception):
    def __init__(self, status, reason, message, body=None):
        super().__init__("%d %s: %s" % (status, reason, message))
        self.status = status
        self.reason = reason
        self.message = message
        self.body = body


class NotFound(ApiError):
    pass


class Conflict(ApiError):
    pass


def _error(status, text):
    reason, message, body = "", text, None
    try:
        body = json.loads(text)
        reason = body.get("reason", "")
        message = body.get("message", text)
    except ValueError:
        pass
    cls = {404: NotFound, 409: Conflict}.get(status, ApiError)
    return cls(status, reason, message, body)


class Kube:
    def __init__(self, url, token=None, ca=None, cert=None, key=None,
                 user_agent="hoist-test"):
        self.url = url.rstrip("/")
        self.token = token
        self.ctx = ssl.create_default_context(cafile=str(ca) if ca else None)
        if cert:
            self.ctx.load_cert_chain(str(cert), str(key))
        self.user_agent = user_agent
        self._resources = {}  # group/version → {kind: resource}
        self._lock = threading.Lock()

    # ---- raw requests ----

    def _open(self, method, path, body=None, params=None,
              content_type="application/json", timeout=30):
        url = self.url + path
        if params:
            url += "?" + urllib.parse.urlencode(
                {k: v for k, v in params.items() if v is not None})
        data = None
        headers = {"Accept": "application/json",
                   "User-Agent": self.user_agent}
        if body is not None:
            data = body if isinstance(body, bytes) else \
                json.dumps(body).encode()
            headers["Content-Type"] = content_type
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        req = urllib.request.Request(url, data=data, method=method,
                                     headers=headers)
        try:
            return urllib.request.urlopen(req, context=self.ctx,
                                          timeout=timeout)
        except urllib.error.HTTPError as e:
            raise _error(e.code, e.read().decode(errors="replace")) from None

    def request(self, method, path, body=None, params=None,
                content_type="application/json", timeout=30, raw=False):
        """One API call; returns the decoded JSON (or bytes with raw)."""
        with self._open(method, path, body, params, content_type,
                        timeout) as resp:
            data = resp.read()
        if raw:
            return data
        return json.loads(data) if data.strip() else None

    # ---- discovery ----

    def _group_path(self, api_version):
        return "/api/v1" if api_version == "v1" else "/apis/" + api_version

    def resource(self, api_version, kind):
        """(plural name, namespaced) of a kind, from discovery."""
        for attempt in (0, 1):
            with self._lock:
                table = self._resources.get(api_version)
            if table is None or (attempt and kind not in table):
                doc = self.request("GET", self._group_path(api_version))
                table = {r["kind"]: r for r in doc["resources"]
                         if "/" not in r["name"]}
                with self._lock:
                    self._resources[api_version] = table
            if kind in table:
                r = table[kind]
                return r["name"], r["namespaced"]
        raise ApiError(404, "NotFound", "no kind %s in %s"
                       % (kind, api_version))

    def path(self, api_version, kind, namespace=None, name=None,
             subresource=None):
        plural, namespaced = self.resource(api_version, kind)
        p = self._group_path(api_version)
        if namespaced and namespace:
            p += "/namespaces/" + namespace
        p += "/" + plural
        if name:
            p += "/" + name
        if subresource:
            p += "/" + subresource
        return p

    # ---- objects ----

    def get(self, api_version, kind, name, namespace=None,
            subresource=None):
        return self.request("GET", self.path(api_version, kind, namespace,
                                             name, subresource))

    def get_or_none(self, api_version, kind, name, namespace=None):
        try:
            return self.get(api_version, kind, name, namespace)
        except NotFound:
            return None

    def list(self, api_version, kind, namespace=None, **params):
        """Items of a list; params such as labelSelector, fieldSelector."""
        return self.request("GET", self.path(api_version, kind, namespace),
                            params=params)["items"]

    def create(self, obj, namespace=None, subresource=None):
        ns = namespace or obj.get("metadata", {}).get("namespace")
        path = self.path(obj["apiVersion"], obj["kind"], ns)
        if subresource:  # e.g. serviceaccounts/NAME/token
            path = self.path(obj["apiVersion"], obj["kind"], ns,
                             obj["metadata"]["name"], subresource)
        return self.request("POST", path, obj)

    def replace(self, obj, subresource=None):
        m = obj["metadata"]
        return self.request("PUT", self.path(
            obj["apiVersion"], obj["kind"], m.get("namespace"), m["name"],
            subresource), obj)

    def patch(self, api_version, kind, name, namespace=None, patch=None,
              subresource=None, type="merge"):
        ct = {"merge": "application/merge-patch+json",
              "strategic": "application/strategic-merge-patch+json",
              "json": "application/json-patch+json"}[type]
        return self.request("PATCH", self.path(api_version, kind, namespace,
                                               name, subresource),
                            patch, content_type=ct)

    def delete(self, api_version, kind, name, namespace=None,
               grace_period=None, uid=None, propagation="Background",
               missing_ok=True):
        body = {"kind": "DeleteOptions", "apiVersion": "v1",
                "propagationPolicy": propagation}
        if grace_period is not None:
            body["gracePeriodSeconds"] = grace_period
        if uid:
            body["preconditions"] = {"uid": uid}
        try:
            return self.request("DELETE", self.path(
                api_version, kind, namespace, name), body)
        except NotFound:
            if not missing_ok:
                raise
            return None

    def apply(self, obj):
        """Creates obj, or merge-patches it if it exists."""
        try:
            return self.create(obj)
        except Conflict:
            m = obj["metadata"]
            return self.patch(obj["apiVersion"], obj["kind"], m["name"],
                              m.get("namespace"), obj)

    # ---- watching and waiting ----

    def watch(self, api_version, kind, namespace=None, resource_version=None,
              timeout=60, **params):
        """Yields watch events ({"type": ..., "object": ...}) until the
        server closes the stream (after `timeout` seconds)."""
        params.update(watch="1", timeoutSeconds=str(int(timeout)),
                      allowWatchBookmarks="true")
        if resource_version:
            params["resourceVersion"] = resource_version
        with self._open("GET", self.path(api_version, kind, namespace),
                        params=params, timeout=timeout + 30) as resp:
            for line in resp:
                if line.strip():
                    yield json.loads(line)

    @staticmethod
    def poll(fn, timeout=60, interval=0.2, what="true"):
        """Calls fn until it returns something true; returns that."""
        deadline = time.monotonic() + timeout
        while True:
            v = fn()
            if v:
                return v
            if time.monotonic() > deadline:
                raise TimeoutError("not %s after %ss" % (what, timeout))
            time.sleep(interval)

    def wait(self, api_version, kind, name, namespace=None, until=None,
             timeout=60, interval=0.2, what=None):
        """Polls an object until until(obj) is true (obj may be None when it
        does not exist); returns the object. Raises TimeoutError with the
        last state seen."""
        deadline = time.monotonic() + timeout
        obj = None
        while True:
            obj = self.get_or_none(api_version, kind, name, namespace)
            if until(obj):
                return obj
            if time.monotonic() > deadline:
                state = json.dumps((obj or {}).get("status"), indent=1)
                raise TimeoutError("%s %s/%s: not %s after %ss; status: %s"
                                   % (kind, namespace, name,
                                      what or "ready", timeout, state))
            time.sleep(interval)
