"""What a simulated EVI chat says: its prompt, user and agent turns, and their synthetic prosody scores.

The scores are synthetic (beta-distributed, a few salient emotions per message), not a model's output.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import orjson

from humekit.predictions.vocabulary import EMOTIONS

__all__ = ["prosody_scores", "script_events"]

_PROMPT = ("<role>You are a warm, concise voice assistant helping a research participant talk through "
           "their day. Ask one question at a time.</role>")  # fmt: skip
_USER = (
    "Hi, can you hear me?", "I had a pretty long day at work, honestly.", "My manager moved the deadline again.",
    "I guess I'm a bit stressed about the presentation tomorrow.", "Oh, that's a good idea, I hadn't thought of that.",
    "We went hiking last weekend and it was beautiful.", "I don't really know, maybe I'm just tired.",
    "Ha, yes, that's exactly what happened!", "Can you remind me what we talked about earlier?",
    "I'm excited about the trip next month.", "It's fine, I'll figure it out.", "Thanks, that actually helps.",
    "What's the weather going to be like tomorrow?", "I miss my family a lot lately.", "Okay, I think that's all.",
)  # fmt: skip
_AGENT = (
    "Hello! Yes, I can hear you clearly. How are you today?", "That sounds exhausting. What made it so long?",
    "Deadlines moving can be really frustrating. How are you handling it?",
    "It's natural to feel nervous. Would it help to walk through your opening?",
    "I'm glad that helps. What would you like to try first?", "That sounds lovely. Where did you go?",
    "Being tired can color everything. Did you sleep well last night?", "Ha! That must have been quite a moment.",
    "Earlier you mentioned your presentation and the deadline at work.", "That's wonderful. Where are you headed?",
    "I believe in you. Is there anything else on your mind?", "You're welcome. I'm here whenever you need.",
    "I can't check live forecasts, but I'm happy to talk it through.", "That's hard. When did you last see them?",
    "Thank you for sharing today. Take care!",
)  # fmt: skip


def script_events(chat_id: str, start_ms: int, end_ms: int, rng: random.Random, new_id: Callable[[], str]
                  ) -> list[dict[str, Any]]:  # fmt: skip
    """The events of a chat from ``start_ms`` to ``end_ms``: prompt, start, user/agent exchanges with prosody, end."""
    events: list[dict[str, Any]] = []

    def add(ts: int, role: str, kind: str, text: str | None = None, scores: bool = False,
            related: str | None = None, metadata: str = "") -> str:  # fmt: skip
        event: dict[str, Any] = {"id": new_id(), "chat_id": chat_id, "timestamp": ts, "role": role, "type": kind,
                                 "message_text": text, "emotion_features": prosody_scores(rng) if scores else "",
                                 "metadata": metadata}
        if related is not None:
            event["related_event_id"] = related
        events.append(event)
        return event["id"]

    start, end = start_ms, end_ms
    add(start + 50, "SYSTEM", "CHAT_START_MESSAGE")
    add(start + 114, "SYSTEM", "SYSTEM_PROMPT", _PROMPT)
    turns = max(1, int((end - start) / 8000))
    step = (end - start - 1000) / turns
    for i in range(turns):
        t = int(start + 600 + i * step)
        text = _USER[(i + rng.randrange(3)) % len(_USER)] if i else _USER[0]
        spoken = int(300 + 60 * len(text))
        meta = orjson.dumps({"segments": [{"content": text, "time": {"begin_ms": 0, "end_ms": spoken}}]}).decode()
        add(t, "USER", "USER_MESSAGE", text, scores=True, metadata=meta)
        reply = _AGENT[(i + rng.randrange(3)) % len(_AGENT)] if i else _AGENT[0]
        agent = add(min(t + spoken + rng.randint(300, 900), end - 200), "AGENT", "AGENT_MESSAGE", reply, scores=True)
        add(events[-1]["timestamp"] + 20, "AGENT", "ASSISTANT_PROSODY", reply, scores=True, related=agent)
    add(end - 10, "SYSTEM", "CHAT_END_MESSAGE")
    events.sort(key=lambda e: e["timestamp"])
    return events


def prosody_scores(rng: random.Random) -> str:
    """A stringified map of the 48 prosody scores: mostly low, a few salient, like real output."""
    salient = set(rng.sample(range(len(EMOTIONS)), 3))
    values = {name: round(rng.betavariate(2, 6 if i in salient else 40), 6) for i, name in enumerate(EMOTIONS)}
    return orjson.dumps(values).decode()
