"""A minimal OpenID Connect provider on 127.0.0.1 for tests: discovery, an authorize endpoint
that signs in whoever ``Provider.email`` names at once (no form), a token endpoint issuing an
RS256-signed ID token, and the key set. Enough for Streamlit's ``st.login`` (Authlib) to run its
real code flow against it; nothing here is fit for anything but tests."""

from __future__ import annotations

import json
import secrets
import threading
import time
from base64 import b64decode
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

CLIENT_ID, CLIENT_SECRET = "runboard-test", "client-secret-for-tests"


class Provider:
    def __init__(self) -> None:
        from joserfc.jwk import RSAKey

        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key", "use": "sig", "alg": "RS256"})
        self.email = "nobody@example.com"  # who the next sign-in is
        self.codes: dict[str, dict] = {}  # code → the authorize request's nonce and client
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Provider:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def metadata_url(self) -> str:
        return f"{self.base}/.well-known/openid-configuration"

    def metadata(self) -> dict:
        return {"issuer": self.base, "authorization_endpoint": f"{self.base}/authorize",
                "token_endpoint": f"{self.base}/token", "jwks_uri": f"{self.base}/jwks",
                "response_types_supported": ["code"], "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"]}

    def id_token(self, nonce: str | None) -> str:
        from joserfc import jwt

        now = int(time.time())
        claims = {"iss": self.base, "sub": self.email, "aud": CLIENT_ID, "iat": now, "exp": now + 600,
                  "email": self.email, "email_verified": True, "name": self.email.split("@")[0]}
        if nonce:
            claims["nonce"] = nonce
        return jwt.encode({"alg": "RS256", "kid": "test-key"}, claims, self.key)

    def _handler(self):
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def _json(self, doc: dict, status: int = 200) -> None:
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path == "/.well-known/openid-configuration":
                    return self._json(provider.metadata())
                if url.path == "/jwks":
                    return self._json({"keys": [provider.key.as_dict(private=False)]})
                if url.path == "/authorize":
                    q = {k: v[0] for k, v in parse_qs(url.query).items()}
                    code = secrets.token_urlsafe(16)
                    provider.codes[code] = {"nonce": q.get("nonce"), "client_id": q.get("client_id")}
                    self.send_response(302)
                    self.send_header(
                        "Location", f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}"
                    )
                    self.end_headers()
                    return None
                return self._json({"error": "not_found"}, 404)

            def do_POST(self) -> None:
                form = {
                    k: v[0] for k, v in parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode()).items()
                }
                client = form.get("client_id"), form.get("client_secret")
                if auth := self.headers.get("Authorization", "").removeprefix("Basic "):
                    client = tuple(b64decode(auth).decode().split(":", 1))
                grant = provider.codes.pop(form.get("code", ""), None)
                if urlsplit(self.path).path != "/token" or grant is None or client != (CLIENT_ID, CLIENT_SECRET):
                    return self._json({"error": "invalid_grant"}, 400)
                return self._json({"access_token": secrets.token_urlsafe(16), "token_type": "Bearer",
                                   "expires_in": 600, "id_token": provider.id_token(grant["nonce"])})

        return Handler
