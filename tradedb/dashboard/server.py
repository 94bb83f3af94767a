"""Running the dashboard: the binding rules (a token off loopback) and uvicorn in this event loop."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from ..errors import TradeDBError, ValidationError
from ..repository import Repository
from ..upkeep import STALE_AFTER

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8750
TOKEN_VARIABLE = "TRADEDB_DASHBOARD_TOKEN"
# A token shorter than this is too easy to guess over the network.
MIN_TOKEN_LENGTH = 16


def is_loopback(host: str) -> bool:
    """Whether `host` names only this machine: localhost, 127.0.0.0/8 or ::1."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_binding(host: str, token: str | None) -> str | None:
    """The token to require (None: none), or ValidationError when the binding would expose the dashboard without one."""
    if token is not None:
        if len(token) < MIN_TOKEN_LENGTH or not token.isprintable() or any(c.isspace() for c in token):
            raise ValidationError(
                "token", f"expected at least {MIN_TOKEN_LENGTH} printable characters without spaces; "
                "make one with: python -c 'import secrets; print(secrets.token_urlsafe(24))'"
            )
        return token
    if not is_loopback(host):
        raise ValidationError(
            "host", f"{host} is reachable from other machines: give a token with --token or ${TOKEN_VARIABLE} "
            "(python -c 'import secrets; print(secrets.token_urlsafe(24))'), or serve on 127.0.0.1"
        )
    return None


def allowed_hosts(host: str, port: int) -> frozenset[str] | None:
    """The Host headers a loopback server answers to (None: any, for a server behind a token on a real address)."""
    if not is_loopback(host):
        return None
    names = {"localhost", "127.0.0.1", "[::1]", host if ":" not in host else f"[{host.strip('[]')}]"}
    return frozenset({f"{name}:{port}" for name in names} | ({*names} if port == 80 else set()))


def _quiet_server(base: type[Any]) -> type[Any]:
    """uvicorn's Server without its signal handlers: the caller decides what Ctrl-C stops (see stop())."""

    class Server(base):  # type: ignore[misc]
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return Server


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (ours, so that a port in use is a clear error, not uvicorn's exit)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise ValidationError("host", f"{host!r} is not an address of this machine ({error.strerror})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
        sock.setblocking(False)
    except OSError as error:
        sock.close()
        raise TradeDBError(
            f"cannot serve on {host}:{port} ({error.strerror}): is another program using the port? "
            "choose another with --port"
        ) from None
    return sock


class DashboardServer:
    """The dashboard over an open repository, served by uvicorn in the running event loop until stopped."""

    def __init__(
        self, repository: Repository, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
        token: str | None = None, stale_after: timedelta = STALE_AFTER,
    ) -> None:
        try:
            import uvicorn

            from .app import create_app
        except ImportError as error:
            raise TradeDBError(
                f"the dashboard needs its extra ({error.name} is missing): pip install 'tradedb[dashboard]'"
            ) from None
        self.token = check_binding(host, token)
        self.host, self.port = host, port
        app = create_app(repository, token=self.token, stale_after=stale_after)
        self._app = app
        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", lifespan="on", access_log=False,
            # Event streams never end by themselves: give them a second to close on Ctrl-C.
            timeout_graceful_shutdown=1,
        )
        self._server = _quiet_server(uvicorn.Server)(config)
        self._task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None

    @property
    def address(self) -> str:
        """The URL to open (with the port actually bound, when 0 asked for any)."""
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"http://{host}:{self.bound_port}/"

    @property
    def bound_port(self) -> int:
        """The port listened on (the one chosen by the system when --port was 0)."""
        return self.port if self._socket is None else int(self._socket.getsockname()[1])

    async def start(self) -> None:
        """Bind and start answering; TradeDBError when the address cannot be bound."""
        self._socket = bind(self.host, self.port)
        self._app.state.dashboard.hosts = allowed_hosts(self.host, self.bound_port)
        self._task = asyncio.create_task(self._server.serve(sockets=[self._socket]))
        while not self._server.started and not self._task.done():
            await asyncio.sleep(0.02)
        if self._task.done():
            self._task.result()

    async def stop(self) -> None:
        """Stop answering and wait for open requests (event streams get a second)."""
        if self._task is None:
            return
        await self._app.state.dashboard.close_streams()
        self._server.should_exit = True
        try:
            await self._task
        finally:
            self._task = None
            if self._socket is not None:
                self._socket.close()
