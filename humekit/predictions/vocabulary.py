"""Hume's fixed vocabularies: model names, emotion labels, FACS and descriptor names.

Every list here is in the order Hume returns it in predictions JSON. Sources are in
``../shared/reference/hume-batch-api.md`` §2 (label sets read from the real samples and the
artifacts ZIP header); the artifacts CSVs use a different column order, kept in ``CSV_*``.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "API_MODELS",
    "V1_MODELS",
    "BURST_DESCRIPTIONS",
    "CSV_EMOTIONS",
    "CSV_LANGUAGE_EMOTIONS",
    "EMOTIONS",
    "FACE_DESCRIPTIONS",
    "FACS",
    "GRANULARITIES",
    "LANGUAGE_EMOTIONS",
    "MODELS",
    "MODEL_ORDER",
    "SENTIMENT",
    "TOXICITY",
    "TRANSCRIPTION_LANGUAGES",
    "check_models",
]

#: The six batch models, in the order Hume echoes them.
MODELS: tuple[str, ...] = ("burst", "face", "facemesh", "language", "ner", "prosody")

#: What humekit asks Hume's v1 API for: ``audio`` (its audio endpoint: expressions and voice attributes)
#: and ``face`` (its image endpoint: face expressions and descriptions). v1 has no text or burst model.
V1_MODELS: tuple[str, ...] = ("audio", "face")

#: Each API's models, by the name humekit gives the API (``api=``).
API_MODELS: dict[str, tuple[str, ...]] = {"v0": MODELS, "v1": V1_MODELS}


#: The same six in the order Hume writes them inside each prediction (and the order rows come out in).
MODEL_ORDER: tuple[str, ...] = ("face", "burst", "prosody", "language", "ner", "facemesh")


def check_models(names: Iterable[str], *, table: bool = False, api: str = "v0") -> frozenset[str]:
    """``names`` as a set, or :class:`~humekit.errors.UnknownModelError` naming every name Hume does not have.

    The one unknown-model check: ``measure``, ``validate``, ``to_frame``/``to_tables`` all call it, with one
    message. ``table=True`` (``validate``, whose contract is that everything wrong with its call is a
    ``TableError``) raises a :class:`~humekit.errors.TableError` with the same message.
    """
    from humekit.errors import TableError, UnknownModelError

    wanted = frozenset([names] if isinstance(names, str) else names)
    known = API_MODELS[api]
    unknown = sorted(str(name) for name in wanted - set(known))
    if unknown:
        message = f"unknown model(s) {unknown}; choose from Hume's batch models {list(MODELS)}"
        if api == "v1":
            message = (f"unknown model(s) {unknown} for Hume's v1 API; choose from {list(V1_MODELS)} (v1 measures "
                       "audio, with expressions and voice attributes, and faces; it has no language or burst model)")
        raise TableError(message) if table else UnknownModelError(message, unknown=unknown)
    return wanted


GRANULARITIES: tuple[str, ...] = ("word", "sentence", "utterance", "conversational_turn")

#: The 48 expressions of face, prosody and burst, in JSON order.
EMOTIONS: tuple[str, ...] = (
    "Admiration", "Adoration", "Aesthetic Appreciation", "Amusement", "Anger", "Anxiety",
    "Awe", "Awkwardness", "Boredom", "Calmness", "Concentration", "Confusion",
    "Contemplation", "Contempt", "Contentment", "Craving", "Desire", "Determination",
    "Disappointment", "Disgust", "Distress", "Doubt", "Ecstasy", "Embarrassment",
    "Empathic Pain", "Entrancement", "Envy", "Excitement", "Fear", "Guilt", "Horror",
    "Interest", "Joy", "Love", "Nostalgia", "Pain", "Pride", "Realization", "Relief",
    "Romance", "Sadness", "Satisfaction", "Shame", "Surprise (negative)",
    "Surprise (positive)", "Sympathy", "Tiredness", "Triumph",
)  # fmt: skip

#: The 53 expressions of language (and NER): the 48 plus five, sorted alphabetically.
LANGUAGE_EMOTIONS: tuple[str, ...] = tuple(
    sorted(EMOTIONS + ("Annoyance", "Disapproval", "Enthusiasm", "Gratitude", "Sarcasm"))
)


def _csv_order(labels: tuple[str, ...], *, swap_contemplation: bool) -> tuple[str, ...]:
    # The artifacts CSVs put Desire after Satisfaction; face/prosody.csv also list
    # Contemplation before Confusion (read off the real artifacts ZIP's headers).
    order = [label for label in labels if label != "Desire"]
    if swap_contemplation:
        i, j = order.index("Confusion"), order.index("Contemplation")
        order[i], order[j] = order[j], order[i]
    order.insert(order.index("Satisfaction") + 1, "Desire")
    return tuple(order)


#: Emotion column order in the artifacts' face.csv and prosody.csv.
CSV_EMOTIONS: tuple[str, ...] = _csv_order(EMOTIONS, swap_contemplation=True)
#: Emotion column order in the artifacts' language.csv.
CSV_LANGUAGE_EMOTIONS: tuple[str, ...] = _csv_order(LANGUAGE_EMOTIONS, swap_contemplation=False)

#: Face action units (the real face.csv header). In JSON they come under ``facs`` (UNCONFIRMED split).
FACS: tuple[str, ...] = (
    "AU1 Inner Brow Raise", "AU2 Outer Brow Raise", "AU4 Brow Lowerer", "AU5 Upper Lid Raise",
    "AU6 Cheek Raise", "AU7 Lids Tight", "AU9 Nose Wrinkle", "AU10 Upper Lip Raiser",
    "AU11 Nasolabial Furrow Deepener", "AU12 Lip Corner Puller", "AU14 Dimpler",
    "AU15 Lip Corner Depressor", "AU16 Lower Lip Depress", "AU17 Chin Raiser", "AU18 Lip Pucker",
    "AU19 Tongue Show", "AU20 Lip Stretch", "AU22 Lip Funneler", "AU23 Lip Tightener",
    "AU24 Lip Presser", "AU25 Lips Part", "AU26 Jaw Drop", "AU27 Mouth Stretch", "AU28 Lips Suck",
    "AU32 Bite", "AU34 Puff", "AU37 Lip Wipe", "AU38 Nostril Dilate", "AU43 Eye Closure",
    "AU53 Head Up", "AU54 Head Down",
)  # fmt: skip

#: Face descriptions (the rest of the real face.csv header), under ``descriptions`` in JSON.
FACE_DESCRIPTIONS: tuple[str, ...] = (
    "Hand over Mouth", "Hand over Eyes", "Hand over Forehead", "Hand over Face",
    "Hand touching Face / Head", "Beaming", "Biting lip", "Cheering", "Cringe", "Cry",
    "Eyes closed", "Face in hands", "Frown", "Gasp", "Glare", "Glaring", "Grimace", "Grin",
    "Jaw drop", "Laugh", "Licking lip", "Pout", "Scowl", "Smile", "Smirk", "Snarl", "Squint",
    "Sulking", "Tongue out", "Wide-eyed", "Wince", "Wrinkled nose",
)  # fmt: skip

#: Vocal-burst descriptors. Hume documents "67 descriptors" but never published the names
#: (UNCONFIRMED); the emulator uses these plausible call types and onomatopoeia.
BURST_DESCRIPTIONS: tuple[str, ...] = (
    "Sigh", "Laugh", "Giggle", "Chuckle", "Scream", "Shriek", "Gasp", "Groan", "Moan", "Sob",
    "Cry", "Whimper", "Grunt", "Hum", "Cough", "Sneeze", "Yawn", "Snort", "Whistle", "Cheer",
    "Growl", "Hiss", "Huff", "Pant", "Sniff", "Tsk", "Coo", "Squeal", "Wail", "Yell",
    "Aah", "Aha", "Argh", "Aw", "Bleh", "Boo", "Brr", "Eek", "Eh", "Eww", "Gah", "Ha", "Haha",
    "Hee", "Hmm", "Huh", "Mhm", "Mm", "Mmm", "Oh", "Ohh", "Oof", "Ooh", "Oops", "Ouch", "Ow",
    "Phew", "Pfft", "Psst", "Shh", "Ugh", "Uh", "Uh-huh", "Uh-oh", "Um", "Whoa", "Wow",
)  # fmt: skip

#: Language sentiment bins, as Hume names them.
SENTIMENT: tuple[str, ...] = tuple(str(i) for i in range(1, 10))

#: Language toxicity labels (FERN docs; the real language.csv header).
TOXICITY: tuple[str, ...] = ("toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate")

#: BCP-47 codes accepted by ``transcription.language`` (FERN ``Bcp47Tag``).
TRANSCRIPTION_LANGUAGES: tuple[str, ...] = (
    "zh", "da", "nl", "en", "en-AU", "en-IN", "en-NZ", "en-GB", "fr", "fr-CA", "de", "hi",
    "hi-Latn", "id", "it", "ja", "ko", "no", "pl", "pt", "pt-BR", "pt-PT", "ru", "es", "es-419",
    "sv", "ta", "tr", "uk",
)  # fmt: skip

assert len(EMOTIONS) == 48 and len(LANGUAGE_EMOTIONS) == 53
assert len(FACS) == 31 and len(BURST_DESCRIPTIONS) == 67
