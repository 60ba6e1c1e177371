"""What the tests of humekit.webhooks.evi share: an EVI emulator and a stand-in client over it, a chat id.

Test modules import the fixtures as ``evi_emulator`` and ``stand_in_client``; pytest knows them as ``evi`` and
``client``.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from humekit.clock import VirtualClock
from humekit.emulator.evi import EviEmulator
from humekit.emulator.wire import EmuRequest
from humekit.errors import NotFoundError

#: The chat of the SDK's example page (``sdk_example_evi_list_chat_events.json``).
CHAT = "470a49f6-1dec-4afe-8b61-035d3b2d63b0"


def to_emu(request: httpx.Request) -> EmuRequest:
    """An httpx request as the emulator's EmuRequest."""
    return EmuRequest(request.method, request.url.path, request.url.query.decode(),
                      {k.lower(): v for k, v in request.headers.items()}, request.read())  # fmt: skip


class StandIn:
    """The two public members of humekit.Client that humekit.webhooks.evi uses, over an EviEmulator."""

    def __init__(self, evi: EviEmulator, clock: VirtualClock):
        self.clock = clock
        self.calls: list[tuple[str, dict[str, Any] | None, float]] = []
        self.evi = evi

        def respond(request: httpx.Request) -> httpx.Response:
            answer = evi.handle(to_emu(request))
            assert answer is not None, request.url
            return httpx.Response(answer.status, content=answer.body, headers=answer.headers)

        self._http = httpx.Client(base_url="http://emulator.test", transport=httpx.MockTransport(respond))

    def get_json(self, path: str, *, params: Any = None) -> Any:
        self.calls.append((path, params, self.clock.time()))
        response = self._http.get(path, params=params)
        if response.status_code == 404:
            raise NotFoundError("not found", status_code=404, body=response.json())
        response.raise_for_status()
        return response.json()


@pytest.fixture(name="evi")
def evi_emulator(clock: VirtualClock) -> EviEmulator:
    """An EVI emulator with three finished chats."""
    return EviEmulator(clock=clock, seed=7)


@pytest.fixture(name="client")
def stand_in_client(evi: EviEmulator, clock: VirtualClock) -> StandIn:
    """A stand-in client talking to the EVI emulator."""
    return StandIn(evi, clock)
