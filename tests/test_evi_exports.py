"""Tests for humekit.webhooks.evi.exports: exported chat events read into the chat_events table."""

from __future__ import annotations

from typing import Any

import orjson
import pandas as pd
import pytest
from _evi import CHAT, StandIn, evi_emulator, stand_in_client  # noqa: F401 (the `evi` and `client` fixtures)

from humekit.clock import VirtualClock
from humekit.emulator.evi import EviEmulator
from humekit.errors import ChatEventsFormatError
from humekit.webhooks.evi import chat_events, chat_metadata, read_chat_events


def _pages_of(evi: EviEmulator, client: StandIn, chat_id: str, size: int) -> list[dict[str, Any]]:
    """The pages GET /v0/evi/chats/{id} returns at ``size`` events per page, until an empty one."""
    pages = []
    while True:
        page = client.get_json(f"/v0/evi/chats/{chat_id}",
                               params={"page_number": len(pages), "page_size": size, "ascending_order": "true"})
        if not page["events_page"]:
            return pages
        pages.append(page)


def test_read_chat_events_equals_chat_events_for_the_real_sample(samples: Any, tmp_path: Any) -> None:
    """The SDK's example page, read from its file, gives the frame (and attrs) chat_events gives for it."""
    page = orjson.loads((samples / "sdk_example_evi_list_chat_events.json").read_bytes())

    class Pages:
        clock = VirtualClock(0)

        def get_json(self, path: str, *, params: Any = None) -> Any:
            return page if params["page_number"] == 0 else {**page, "events_page": []}

    live = chat_events(Pages(), CHAT)
    saved = read_chat_events(samples / "sdk_example_evi_list_chat_events.json")
    pd.testing.assert_frame_equal(saved, live)
    assert saved.attrs["chat"] == live.attrs["chat"] and list(saved.attrs["chats"]) == [CHAT]
    (tmp_path / "events.json").write_bytes(orjson.dumps(page["events_page"]))  # the events alone, as the pager yields
    pd.testing.assert_frame_equal(read_chat_events(tmp_path / "events.json"), live)


def test_read_chat_events_reads_a_folder_of_pages(evi: EviEmulator, client: StandIn, tmp_path: Any) -> None:
    """Pages of two chats saved one per file (shuffled, one saved twice, one as a list) read back as chat_events."""
    first, second = evi.chat_ids()[:2]
    pages = _pages_of(evi, client, first, 3)
    assert len(pages) > 2
    (tmp_path / "a" / "b").mkdir(parents=True)
    for i, page in enumerate(reversed(pages)):
        (tmp_path / "a" / f"page-{i}.json").write_bytes(orjson.dumps(page))
    (tmp_path / "a" / "b" / "again.json").write_bytes(orjson.dumps(pages[1]))
    (tmp_path / "other.json").write_bytes(orjson.dumps(_pages_of(evi, client, second, 100)))
    (tmp_path / "notes.txt").write_text("not read")
    events = read_chat_events(tmp_path)
    expected = pd.concat([chat_events(client, first), chat_events(client, second)], ignore_index=True)
    pd.testing.assert_frame_equal(events, expected)
    assert set(events.attrs["chats"]) == {first, second} and "chat" not in events.attrs
    meta = {**chat_metadata(client, first), "total_pages": len(pages)}  # pages of 3 events were saved
    assert events.attrs["chats"][first] == meta
    only = read_chat_events(tmp_path / "a")
    pd.testing.assert_frame_equal(only, chat_events(client, first))
    assert only.attrs["chat"] == meta


def test_read_chat_events_names_what_is_wrong(samples: Any, tmp_path: Any) -> None:
    """Not JSON, batch predictions, a missing path or an empty folder each get an error naming the file."""
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ChatEventsFormatError, match=r"bad\.json is not JSON"):
        read_chat_events(tmp_path / "bad.json")
    with pytest.raises(ChatEventsFormatError, match="not exported EVI chat events.*batch predictions"):
        read_chat_events(samples / "real_predictions_text_language_conversational_turn.json")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_chat_events(tmp_path / "nowhere.json")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no .json file"):
        read_chat_events(tmp_path / "empty")
