"""Deribit: cancel-all, make the key read-only (or disable it), prove it with list_api_keys.

JSON-RPC 2.0 over HTTP: POST <base>/api/v2/<method> with {"jsonrpc": "2.0", "id": N,
"method": M, "params": {...}}. Auth: public/auth with grant_type=client_signature, client_id,
timestamp (ms), nonce, data and signature = hex(HMAC_SHA256(client_secret, timestamp + "\\n" +
nonce + "\\n" + data)); private calls carry "Authorization: Bearer <access_token>".
Lock: private/edit_api_key {id, max_scope: READ_ONLY_SCOPE} or private/disable_api_key {id},
using the master credential when configured (else the key itself, which then needs the
account:read_write scope). list_api_keys answers include client_secret: never kept.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import secrets as pysecrets
import time
from typing import Any

import httpx

from garrison.errors import ResponseError
from garrison.model import ActionStatus
from garrison.respond.broker.base import BrokerAdapter, WithdrawState
from garrison.respond.context import StepOutcome
from garrison.respond.http import shared_client
from garrison.respond.secret_access import KeyPair

MAINNET = "https://www.deribit.com"
READ_ONLY_SCOPE = "account:read trade:read wallet:read block_trade:read"
_ids = itertools.count(1)


def sign(secret: str, timestamp: str, nonce: str, data: str) -> str:
    message = f"{timestamp}\n{nonce}\n{data}"
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


class DeribitClient:
    """A JSON-RPC client authenticated with one key (client_signature)."""

    def __init__(self, base_url: str, pair: KeyPair, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.pair = pair
        self.timeout = timeout
        self.token = ""
        self.scope = ""

    def auth(self) -> None:
        timestamp = str(int(time.time() * 1000))
        nonce = pysecrets.token_hex(8)
        result = self.call(
            "public/auth",
            {
                "grant_type": "client_signature",
                "client_id": self.pair.key,
                "timestamp": int(timestamp),
                "nonce": nonce,
                "data": "",
                "signature": sign(self.pair.secret, timestamp, nonce, ""),
            },
        )
        self.token = str(result.get("access_token", ""))
        self.scope = str(result.get("scope", ""))
        if not self.token:
            raise ResponseError("deribit public/auth: no access_token in the answer")

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        if method.startswith("private/") and not self.token:
            self.auth()
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        body = {"jsonrpc": "2.0", "id": next(_ids), "method": method, "params": params or {}}
        try:
            response = shared_client().post(
                f"{self.base_url}/api/v2/{method}", json=body, headers=headers, timeout=self.timeout
            )
        except httpx.HTTPError as exc:
            raise ResponseError(
                f"deribit {method}: unreachable ({type(exc).__name__}: {exc})"
            ) from None
        try:
            answer: dict[str, Any] = response.json()
        except ValueError:
            status = response.status_code
            raise ResponseError(f"deribit {method}: HTTP {status}, not JSON") from None
        if "error" in answer:
            error = answer["error"] or {}
            raise ResponseError(
                f"deribit {method}: refused, code {error.get('code')} {error.get('message', '')}"
            )
        return answer.get("result")


def _find_key(keys: Any, client_id: str) -> dict[str, Any]:
    for entry in keys or []:
        if isinstance(entry, dict) and entry.get("client_id") == client_id:
            return {k: v for k, v in entry.items() if k != "client_secret"}
    raise ResponseError("deribit list_api_keys: the trading key is not in this account's keys")


class DeribitAdapter(BrokerAdapter):
    """`exchange = "deribit"`."""

    def client(self, pair: KeyPair) -> DeribitClient:
        return DeribitClient(self.account.base_url or MAINNET, pair, self.account.timeout_s)

    def plan(self) -> list[tuple[str, str]]:
        out = []
        if self.account.cancel_orders:
            out.append(("broker.cancel", "private/cancel_all"))
        if self.account.lock == "read_only":
            out.append(
                (
                    "broker.lock",
                    f"private/edit_api_key max_scope='{READ_ONLY_SCOPE}', "
                    "then private/list_api_keys to prove it",
                )
            )
        elif self.account.lock == "disable":
            out.append(("broker.lock", "private/disable_api_key, then prove it"))
        return out

    def cancel_orders(self) -> StepOutcome:
        count = self.client(self.trading_key()).call("private/cancel_all")
        cancelled = int(count) if isinstance(count, int) else 0
        return StepOutcome(
            ActionStatus.DONE,
            f"cancelled {cancelled} open order(s) on deribit",
            {"cancelled": cancelled},
        )

    def lock_key(self) -> StepOutcome:
        if self.account.lock == "none":
            return StepOutcome(ActionStatus.SKIPPED, "lock = none in the config")
        trading = self.trading_key()
        admin_pair = (
            self.ctx.key_pair(self.account.master_credential)
            if self.account.master_credential
            else trading
        )
        admin = self.client(admin_pair)
        entry = _find_key(admin.call("private/list_api_keys"), trading.key)
        key_id = entry.get("id")
        if self.account.lock == "disable":
            admin.call("private/disable_api_key", {"id": key_id})
            return self._prove_disabled(admin_pair, trading, key_id)
        admin.call("private/edit_api_key", {"id": key_id, "max_scope": READ_ONLY_SCOPE})
        # a fresh token of the trading key carries the new max_scope: that is the proof
        fresh = self.client(trading)
        entry = _find_key(fresh.call("private/list_api_keys"), trading.key)
        scope = str(entry.get("max_scope", ""))
        if "read_write" in scope:
            raise ResponseError(f"deribit: edit_api_key answered OK but max_scope is '{scope}'")
        return StepOutcome(
            ActionStatus.DONE,
            f"key {key_id} is read-only: max_scope '{scope}' (list_api_keys)",
            {"key_id": key_id, "max_scope": scope, "token_scope": fresh.scope},
        )

    def _prove_disabled(self, admin_pair: KeyPair, trading: KeyPair, key_id: Any) -> StepOutcome:
        if admin_pair is not trading:
            entry = _find_key(self.client(admin_pair).call("private/list_api_keys"), trading.key)
            if entry.get("enabled") is not False:
                raise ResponseError("deribit: disable_api_key answered OK but the key is enabled")
            proof = "list_api_keys enabled=false"
        else:
            try:
                self.client(trading).auth()
            except ResponseError as exc:
                proof = f"public/auth now refused ({exc})"
            else:
                raise ResponseError("deribit: disable_api_key said OK; the key still logs in")
        return StepOutcome(
            ActionStatus.DONE,
            f"key {key_id} disabled: {proof}",
            {"key_id": key_id, "enabled": False},
        )

    def withdraw_state(self) -> WithdrawState:
        client = self.client(self.trading_key())
        client.auth()
        return WithdrawState(
            "wallet:read_write" in client.scope.split(),
            f"token scope = '{client.scope}'",
            "public/auth (client_signature)",
        )
