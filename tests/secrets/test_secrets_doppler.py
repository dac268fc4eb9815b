"""Doppler backend against a local stand-in that speaks Doppler's v3 wire format."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qs, urlparse

import pytest
from tests.secrets.secrets_support import (
    CANARY_KEY,
    CANARY_SECRET,
    Env,
    assert_no_canary,
    free_port,
)

TOKEN = "dp.st.prd.GarrisonTestToken0123456789"


class DopplerStandIn(BaseHTTPRequestHandler):
    """GET/DELETE /v3/configs/config/secret, GET .../secrets/names, POST .../secrets."""

    store: ClassVar[dict[str, str]] = {}

    def log_message(self, format: str, *args: object) -> None:
        return

    def _reply(self, code: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorised(self, params: dict[str, list[str]]) -> bool:
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._reply(401, {"messages": ["Invalid Auth token"], "success": False})
            return False
        if params.get("project") != ["bots"] or params.get("config") != ["prd"]:
            self._reply(404, {"messages": ["Could not find requested config"], "success": False})
            return False
        return True

    def do_GET(self) -> None:
        url = urlparse(self.path)
        params = parse_qs(url.query)
        if not self._authorised(params):
            return
        if url.path == "/v3/configs/config/secrets/names":
            self._reply(200, {"names": sorted(self.store), "success": True})
        elif url.path == "/v3/configs/config/secret":
            name = params.get("name", [""])[0]
            if name not in self.store:
                self._reply(404, {"messages": ["Could not find secret"], "success": False})
                return
            value = self.store[name]
            self._reply(
                200,
                {
                    "name": name,
                    "value": {"raw": value, "computed": value, "note": ""},
                    "success": True,
                },
            )
        else:
            self._reply(404, {"messages": ["not found"], "success": False})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if not self._authorised({"project": [body.get("project")], "config": [body.get("config")]}):
            return
        self.store.update(body["secrets"])
        self._reply(
            200,
            {
                "secrets": {k: {"raw": v, "computed": v} for k, v in self.store.items()},
                "success": True,
            },
        )

    def do_DELETE(self) -> None:
        params = parse_qs(urlparse(self.path).query)
        if self._authorised(params):
            self.store.pop(params["name"][0], None)
            self._reply(200, {"success": True})


@pytest.fixture
def doppler() -> Iterator[str]:
    DopplerStandIn.store = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), DopplerStandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def doppler_config(env: Env, url: str) -> None:
    env.write(f"""
        [secrets]
        backend = "doppler"
        [secrets.doppler]
        api_url = "{url}"
        project = "bots"
        config = "prd"
        [[strategies]]
        name = "bot"
        secrets = ["binance_key", "binance_secret"]
        [secrets.delivery.bot]
        mode = "memfd"
    """)


def test_put_get_list_rm_and_run(doppler: str, genv: Env) -> None:
    doppler_config(genv, doppler)
    auth = {"DOPPLER_TOKEN": TOKEN}
    put = genv.garrison("secrets", "put", "binance_key", stdin=CANARY_KEY.encode(), env=auth)
    assert put.returncode == 0, put.stderr
    genv.garrison("secrets", "put", "binance_secret", stdin=CANARY_SECRET.encode(), env=auth)
    assert DopplerStandIn.store["BINANCE_KEY"] == CANARY_KEY
    got = genv.garrison("secrets", "get", "binance_key", "-f", "json", env=auth)
    assert json.loads(got.stdout)["length"] == 64
    listed = genv.garrison("secrets", "list", env=auth)
    assert b"BINANCE_KEY" in listed.stdout and b"BINANCE_SECRET" in listed.stdout
    run = genv.garrison(
        "secrets",
        "run",
        "bot",
        "--",
        "sh",
        "-c",
        'grep -c "$0" "$GARRISON_SECRETS_PATH"',
        CANARY_KEY,
        env=auth,
    )
    assert run.returncode == 0 and run.stdout.strip() == b"1"
    rm = genv.garrison("secrets", "rm", "binance_key", "--yes", env=auth)
    assert rm.returncode == 0 and "BINANCE_KEY" not in DopplerStandIn.store
    for result in (put, got, listed, rm):
        assert_no_canary(result.stdout, result.stderr)


def test_bad_token_and_unreachable(doppler: str, genv: Env) -> None:
    doppler_config(genv, doppler)
    bad = genv.garrison("secrets", "get", "binance_key", env={"DOPPLER_TOKEN": "dp.st.wrong"})
    assert bad.returncode == 2 and b"token rejected (HTTP 401)" in bad.stderr
    assert b"dp.st.wrong" not in bad.stderr
    none = genv.garrison("secrets", "get", "binance_key")
    assert none.returncode == 2 and b"no token ($DOPPLER_TOKEN)" in none.stderr
    doppler_config(genv, f"http://127.0.0.1:{free_port()}")
    down = genv.garrison("secrets", "get", "binance_key", env={"DOPPLER_TOKEN": TOKEN})
    assert down.returncode == 2 and b"unreachable" in down.stderr
