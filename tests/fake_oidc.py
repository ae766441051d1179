"""A small OpenID Connect provider on 127.0.0.1, for signing in through `st.login` end to end without the internet.

It does what a school's provider does in the authorization-code flow, and checks what a real one checks:
discovery (/.well-known/openid-configuration), a sign-in page that asks for an e-mail address (/authorize), the code
exchanged for an RS256-signed ID token (/token: client secret, redirect URI, PKCE and a one-time code), and its
public keys (/jwks). Nothing here is trusted by the app: Streamlit's own Authlib client validates the token.
"""
from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

from joserfc import jwt
from joserfc.jwk import RSAKey

CLIENT_ID, CLIENT_SECRET = "lesson1-class", "not-a-real-secret"


class FakeProvider:
    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key", "use": "sig", "alg": "RS256"})
        self.codes: dict[str, dict] = {}          # one-time codes -> what the sign-in page was asked, and by whom
        self.tokens_issued: list[dict] = []       # the ID tokens' claims, for the test to look at
        self.audience: str | None = None          # set to make tokens for another client (which must be refused)
        self.url = ""

    def metadata(self) -> dict:
        return {"issuer": self.url, "authorization_endpoint": f"{self.url}/authorize",
                "token_endpoint": f"{self.url}/token", "jwks_uri": f"{self.url}/jwks",
                "response_types_supported": ["code"], "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"], "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                "scopes_supported": ["openid", "email", "profile"]}

    def sign_in_page(self, query: dict) -> str:
        hidden = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                         for k, v in query.items())
        return ("<!doctype html><title>School sign-in</title><h1>School sign-in</h1>"
                f'<form method="post" action="/authorize">{hidden}'
                '<label>E-mail <input name="email" autofocus></label> '
                '<label>Name <input name="name"></label> <button type="submit">Continue</button></form>')

    def authorized(self, form: dict) -> str:
        """The redirect back to the app, with a one-time code for who signed in."""
        if form.get("client_id") != CLIENT_ID or form.get("response_type") != "code":
            raise ValueError("unknown client or response type")
        code = secrets.token_urlsafe(16)
        self.codes[code] = dict(form, issued=time.time())
        return f"{form['redirect_uri']}?{urlencode({'code': code, 'state': form.get('state', '')})}"

    def token(self, form: dict, basic_auth: str | None) -> dict:
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if basic_auth:
            client_id, _, client_secret = base64.b64decode(basic_auth).decode().partition(":")
        if (client_id, client_secret) != (CLIENT_ID, CLIENT_SECRET):
            raise PermissionError("invalid_client")
        asked = self.codes.pop(form.get("code", ""), None)          # a code works once
        if not asked or asked["redirect_uri"] != form.get("redirect_uri") or time.time() - asked["issued"] > 60:
            raise PermissionError("invalid_grant")
        if asked.get("code_challenge"):
            verifier = form.get("code_verifier", "").encode()
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).decode().rstrip("=")
            if challenge != asked["code_challenge"]:
                raise PermissionError("invalid_grant")
        now = int(time.time())
        email = asked["email"].strip().lower()
        claims = {"iss": self.url, "aud": self.audience or CLIENT_ID, "sub": "sub-" + hashlib.sha256(email.encode()).hexdigest()[:12],
                  "email": email, "email_verified": True, "name": asked.get("name") or email,
                  "iat": now, "exp": now + 300, "nonce": asked.get("nonce")}
        self.tokens_issued.append(claims)
        id_token = jwt.encode({"alg": "RS256", "kid": "test-key"}, claims, self.key)
        return {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "expires_in": 300,
                "id_token": id_token, "scope": asked.get("scope", "openid")}

    def handler(self):
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, body: str | dict, content_type="application/json", headers=()):
                data = (json.dumps(body) if isinstance(body, dict) else body).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _form(self) -> dict:
                length = int(self.headers.get("Content-Length") or 0)
                return {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}

            def do_GET(self):
                url = urlparse(self.path)
                if url.path == "/.well-known/openid-configuration":
                    self._send(200, provider.metadata())
                elif url.path == "/jwks":
                    self._send(200, {"keys": [provider.key.as_dict(private=False)]})
                elif url.path == "/authorize":
                    query = {k: v[0] for k, v in parse_qs(url.query).items()}
                    self._send(200, provider.sign_in_page(query), "text/html")
                else:
                    self._send(404, {"error": "not_found"})

            def do_POST(self):
                url, form = urlparse(self.path), self._form()
                try:
                    if url.path == "/authorize":
                        self._send(302, "", "text/plain", [("Location", provider.authorized(form))])
                    elif url.path == "/token":
                        basic = self.headers.get("Authorization", "")
                        self._send(200, provider.token(form, basic[6:] if basic.startswith("Basic ") else None))
                    else:
                        self._send(404, {"error": "not_found"})
                except (PermissionError, ValueError, KeyError) as e:
                    self._send(400, {"error": str(e) or "invalid_request"})

        return Handler


@contextmanager
def fake_provider():
    """A running provider; yields it (its `url` is the issuer)."""
    provider = FakeProvider()
    server = ThreadingHTTPServer(("127.0.0.1", 0), provider.handler())
    provider.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()


def auth_secrets(provider: FakeProvider) -> str:
    """The [auth] section of secrets.toml a class would write for this provider."""
    return ("[auth]\n"
            'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
            f'cookie_secret = "{secrets.token_hex(32)}"\n'
            f'client_id = "{CLIENT_ID}"\n'
            f'client_secret = "{CLIENT_SECRET}"\n'
            f'server_metadata_url = "{provider.url}/.well-known/openid-configuration"\n')
