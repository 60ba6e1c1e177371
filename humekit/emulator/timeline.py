"""Where the emulator's predictions go: speech segments, words, sentences, face frames, windows.

This is the *structure* half of the emulator's synthesis, and it follows the real content:

- WAV audio is segmented by short-time energy of its actual samples (25 ms frames, a threshold
  between the file's own noise floor and speech level, gaps under 0.3 s merged).
- Other audio/video (MP3, MP4…), which the emulator cannot decode without codecs, gets evenly
  spaced, seeded segments over the duration its header states.
- Text is tokenized for real: words (``\\S+``) and sentences keep exact character offsets.
- The emulator does not transcribe: speech segments get **synthetic words** from a small fixed
  vocabulary, timed inside each segment. Every time stays inside ``[0, duration]``.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import numpy as np

from humekit.pipeline.media import parse_wav

__all__ = [
    "Transcript",
    "Unit",
    "even_segments",
    "face_frames",
    "sentence_spans",
    "speech_segments",
    "synthetic_transcript",
    "text_units",
    "wav_samples",
    "windows",
    "word_spans",
]

Span = tuple[float, float]

#: Words for synthetic transcripts. Capitalised names give the NER model something to find.
VOCABULARY: tuple[str, ...] = (
    "well", "I", "think", "that", "we", "should", "talk", "about", "it", "really", "okay", "so",
    "maybe", "tomorrow", "the", "plan", "was", "good", "you", "know", "actually", "right", "yes",
    "no", "never", "always", "feel", "like", "this", "time", "Alice", "Paris", "Monday", "Boston",
    "Google", "Maria", "London", "people", "work", "home",
)  # fmt: skip
_NAMES = frozenset(w for w in VOCABULARY if w[0].isupper() and w != "I")


@dataclass(frozen=True, slots=True)
class Unit:
    """One prediction's span: text, character positions, times and speaker."""

    text: str
    begin: int  # character offset, inclusive
    end: int  # character offset, exclusive
    t0: float | None = None
    t1: float | None = None
    speaker: str = "unknown"


@dataclass(frozen=True, slots=True)
class Transcript:
    """A synthetic transcript of an audio timeline: one sentence per speech segment."""

    text: str
    words: tuple[Unit, ...]
    sentences: tuple[Unit, ...]

    def units(self, granularity: str) -> list[Unit]:
        """The prediction spans for a granularity (turn = consecutive sentences of one speaker)."""
        if granularity == "word":
            return list(self.words)
        if granularity != "conversational_turn":
            return list(self.sentences)
        turns: list[Unit] = []
        for s in self.sentences:
            if turns and turns[-1].speaker == s.speaker:
                last = turns[-1]
                turns[-1] = Unit(self.text[last.begin : s.end], last.begin, s.end, last.t0, s.t1, s.speaker)
            else:
                turns.append(s)
        return turns

    def entities(self) -> list[Unit]:
        """Words that are proper names (the NER model's synthetic hits)."""
        return [w for w in self.words if w.text.strip(".") in _NAMES]


def wav_samples(data: bytes) -> tuple[np.ndarray, int] | None:
    """Decode a WAV's samples to mono float32 in [-1, 1]; ``None`` if not a readable WAV."""
    f = io.BytesIO(data)
    fmt = parse_wav(f)
    if fmt is None or fmt.bits not in (8, 16, 24, 32, 64) or fmt.format_tag not in (1, 3):
        return None
    width = fmt.bits // 8
    frames = fmt.data_size // fmt.block_align
    raw = np.frombuffer(data, np.uint8, frames * fmt.block_align, fmt.data_offset)
    raw = raw.reshape(frames, fmt.block_align)[:, : width * fmt.channels].reshape(frames, fmt.channels, width)
    x: np.ndarray  # float32 samples; the stubs widen int / float32 arithmetic to float64
    if fmt.format_tag == 3:
        x = raw.reshape(frames, -1).view("<f4" if width == 4 else "<f8").astype(np.float32)
    elif width == 1:
        x = (raw[..., 0].astype(np.float32) - 128) / 128
    elif width == 3:  # 24-bit: widen to int32 by putting the three bytes in the top of each word
        padded = np.zeros((frames, fmt.channels, 4), np.uint8)
        padded[..., 1:] = raw
        x = padded.reshape(frames, -1).view("<i4").astype(np.float32) / 2**31
    else:
        x = raw.reshape(frames, -1).view(f"<i{width}").astype(np.float32) / 2 ** (8 * width - 1)
    return x.reshape(frames, fmt.channels).mean(axis=1), fmt.sample_rate


def speech_segments(samples: np.ndarray, sample_rate: int, *, frame: float = 0.025,
                    merge_gap: float = 0.3, min_length: float = 0.1, floor_percentile: float = 10.0) -> list[Span]:
    """Energy-based voice activity: spans where frame energy stands out of the noise floor.

    The threshold sits 35% of the way from the file's noise floor (the ``floor_percentile``-th
    percentile of frame energy, dB) to its speech level (95th percentile), so it adapts to each
    recording's gain; a low ``floor_percentile`` finds the pauses of a file that is mostly speech.
    A file whose level hardly varies is all speech if loud, all silence if quiet.
    """
    hop = max(1, int(frame * sample_rate))
    n = len(samples) // hop
    if n == 0:
        return []
    energy = np.square(samples[: n * hop].reshape(n, hop), dtype=np.float64).mean(axis=1)
    db = 10 * np.log10(energy + 1e-12)
    floor, loud = np.percentile(db, floor_percentile), np.percentile(db, 95)
    if loud - floor < 10:  # no contrast: decide on absolute level (-50 dBFS)
        voiced = np.full(n, loud > -50.0)
    else:
        voiced = db > floor + 0.35 * (loud - floor)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], voiced.astype(np.int8), [0]))))
    duration = len(samples) / sample_rate
    spans: list[list[float]] = []
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        begin, end = float(start * hop / sample_rate), float(min(stop * hop / sample_rate, duration))
        if spans and begin - spans[-1][1] < merge_gap:
            spans[-1][1] = end
        else:
            spans.append([begin, end])
    return [(round(b, 6), round(e, 6)) for b, e in spans if e - b >= min_length]


def even_segments(duration: float, rng: np.random.Generator) -> list[Span]:
    """Seeded 1.5–6 s segments with 0.3–1.2 s pauses, for audio the emulator cannot decode."""
    count = int(duration / 2.5) + 2
    lengths, gaps = rng.uniform(1.5, 6.0, count), rng.uniform(0.3, 1.2, count)
    starts = np.cumsum(np.concatenate(([rng.uniform(0.1, 0.8)], (lengths + gaps)[:-1])))
    out = []
    for begin, length in zip(starts.tolist(), lengths.tolist(), strict=True):
        end = min(begin + length, duration)
        if end - begin >= 0.2:
            out.append((round(begin, 6), round(end, 6)))
    return out


def synthetic_transcript(segments: list[Span], rng: np.random.Generator, *,
                         identify_speakers: bool) -> Transcript:
    """One synthetic sentence per segment, ~0.4 s per word, speakers alternating when identified."""
    words: list[Unit] = []
    sentences: list[Unit] = []
    pos = 0
    parts: list[str] = []
    for index, (begin, end) in enumerate(segments):
        begin, end = float(begin), float(end)  # plain floats: the output must be JSON-ready
        speaker = f"spk_{index % 2}" if identify_speakers else "unknown"
        count = max(1, round((end - begin) / 0.4))
        # Jittered, monotone word boundaries inside the segment (words 0.3–0.5 s on average).
        cuts = np.sort(rng.uniform(-0.25, 0.25, count - 1) + np.arange(1, count)) / count
        times = begin + (end - begin) * np.concatenate(([0.0], cuts, [1.0]))
        tokens = [VOCABULARY[i] for i in rng.integers(0, len(VOCABULARY), count)]
        tokens[0] = tokens[0][0].upper() + tokens[0][1:]
        tokens[-1] += "."
        sentence_begin = pos
        for k, token in enumerate(tokens):
            t0, t1 = round(float(times[k]), 6), round(float(times[k + 1]), 6)
            words.append(Unit(token, pos, pos + len(token), t0, t1, speaker))
            pos += len(token) + 1
        sentence = " ".join(tokens)
        sentences.append(Unit(sentence, sentence_begin, sentence_begin + len(sentence), begin, end, speaker))
        parts.append(sentence)
    return Transcript(" ".join(parts), tuple(words), tuple(sentences))


_WORD = re.compile(r"\S+")
_SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)")


def word_spans(text: str) -> list[tuple[int, int]]:
    """Whitespace-delimited tokens (punctuation stays attached), as [begin, end) offsets."""
    return [m.span() for m in _WORD.finditer(text)]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Sentences ending in ``.``, ``!`` or ``?`` before whitespace, trimmed, as [begin, end)."""
    spans, start = [], 0
    cuts = [m.end() for m in _SENTENCE_END.finditer(text)]
    for stop in [*cuts, len(text)]:
        chunk = text[start:stop]
        if chunk.strip():
            lead = len(chunk) - len(chunk.lstrip())
            spans.append((start + lead, start + len(chunk.rstrip())))
        start = stop
    return spans


def text_units(text: str, granularity: str) -> list[Unit]:
    """Prediction spans of raw text: words, sentences (= utterances), or the whole passage."""
    if granularity == "word":
        spans = word_spans(text)
    elif granularity == "conversational_turn":
        stripped = text.strip()
        spans = [(text.index(stripped), text.index(stripped) + len(stripped))] if stripped else []
    else:
        spans = sentence_spans(text)
    return [Unit(text[b:e], b, e) for b, e in spans]


def face_frames(duration: float, fps_pred: float, *, source_fps: float = 25.0) -> np.ndarray:
    """Sampled frame numbers: every ``source_fps / fps_pred`` frames, from the first step.

    The real sample at 25 fps and ``fps_pred=3`` starts at frame 8 (t = 0.32 s), then 17, 25,
    33…, i.e. ``round(n * 25 / 3)`` for n = 1, 2…; ``fps_pred=0`` means every frame.
    """
    step = 1.0 if fps_pred <= 0 else max(1.0, source_fps / fps_pred)
    total = duration * source_fps  # frames 0 .. total-1 exist
    count = int(np.ceil(total / step)) + 1
    frames = np.unique(np.round(np.arange(1, count + 1) * step).astype(np.int64))
    return frames[frames < total - 1e-9]


def windows(duration: float, length: float, step: float) -> list[Span]:
    """Fixed windows over the whole file, the last ones cut at the end of the recording."""
    starts = np.arange(0.0, duration, max(step, 0.5))
    return [(round(float(s), 6), round(float(min(s + length, duration)), 6)) for s in starts]
