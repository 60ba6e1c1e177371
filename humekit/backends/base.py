"""The seam between the pipeline and an API: what every backend must do with the units of work it is given.

The pipeline validates a table, turns its rows into :class:`~humekit.pipeline.planning.RowInput`, asks the
backend to **pack** the rows the ledger does not cover yet into units (a v0 job of up to 100 inputs; a v1
audio window; one request per input), lets it **execute** them, **collect** the answers of units sent
earlier, and **decode** each stored answer into tables keyed by input. The join reads everything back from
the ledger through the input→row mapping recorded with each unit, never by order.

What a backend guarantees (tests/test_sync_backend.py proves a second backend can keep it with no v0 code):

1. **Nothing is sent before its unit is recorded**: :meth:`Ledger.claim` (with the unit's request and its
   input→row mapping) comes first; a unit the ledger already holds is never sent again.
2. **Answers are stored before they are reported**: the raw answer of a unit is in the ledger
   (:meth:`Ledger.record_answer`, or v0's :meth:`Ledger.store_predictions`) before ``execute``/``collect``
   return or anything is shown to the user.
3. **No refused payload is resent**: before sending, :meth:`Ledger.refusal` is asked for the unit's
   :func:`~humekit.pipeline.ledger.payload_key`; a refusal is recorded with :meth:`Ledger.record_rejected`.
4. Units that reach a final state say so in the ledger's ``status`` column with :data:`COMPLETED` or
   :data:`FAILED` (a message beside it): the join needs nothing else from the backend but :meth:`decode`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd

if TYPE_CHECKING:
    from humekit.clock import Clock
    from humekit.pipeline.input_limits import InputLimits
    from humekit.pipeline.ledger import Ledger
    from humekit.pipeline.planning import Plan, RowInput, Unit
    from humekit.pipeline.progress import Progress
    from humekit.webhooks.receiver import CallbackReceiver

__all__ = ["COMPLETED", "FAILED", "Backend", "Decoded", "Executed", "Run"]

#: A unit's final ``status`` in the ledger: answered (its answer is stored) or failed (``message`` says why).
COMPLETED = "COMPLETED"
FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class Run:
    """What one ``measure`` call gives its backend: where to record, what to ask for, how long to wait."""

    ledger: Ledger
    models: Mapping[str, Any]
    r"""Every model of the call with its options (a unit asks for those named in ``Unit.models``)."""
    transcription: Any
    salt: str
    r"""Appended to the configuration of the units made now (new keys for a retry)."""
    progress: Progress
    timeout: float | None
    wait_initial: float = 1.0
    wait_max: float = 60.0
    callback: CallbackReceiver | None = None
    r"""Where an asynchronous API's callbacks arrive (a backend that has none refuses one)."""
    callback_fallback: float = 60.0
    run_id: str = ""
    r"""This call's id (carried by v0 callback URLs)."""


@dataclass(slots=True)
class Executed:
    """What executing (or resuming) units did."""

    submitted: list[str] = field(default_factory=list)
    r"""The API's ids of what was sent now (v0 job ids; unit keys for an API without ids)."""
    reused: list[str] = field(default_factory=list)
    r"""Ids found in the ledger or recovered from the API (nothing paid again)."""
    rejected: dict[Any, str] = field(default_factory=dict)
    r"""Row position -> why the API refused its input even alone."""

    def add(self, other: Executed) -> None:
        """Fold another report into this one."""
        self.submitted += other.submitted
        self.reused += other.reused
        self.rejected.update(other.rejected)

    def __bool__(self) -> bool:
        return bool(self.submitted or self.reused or self.rejected)


@dataclass(frozen=True, slots=True)
class Decoded:
    """One unit's answer as tables, every row naming the input it answers for (``input_key``)."""

    scores: pd.DataFrame
    r"""Prediction rows: every one of :data:`~humekit.pipeline.columns.PREDICTION_COLUMNS` (empty where an
    API has nothing to say) plus ``input_key``. ``api`` may be left empty: the join sets it on every row to
    the backend's :attr:`Backend.api`."""
    descriptors: pd.DataFrame
    r"""Descriptor rows: every one of :data:`~humekit.pipeline.columns.DESCRIPTOR_COLUMNS` plus ``input_key``."""
    errors: Mapping[str, str]
    r"""Input key -> the API's message, for inputs it could not measure."""
    answered: Mapping[str, tuple[list[tuple[str, str | None]], set[tuple[str, str]]]]
    r"""Input key -> the ``(file, file kind)`` the answer covers and the ``(file, model)`` pairs that found
    something: what a row's ``note`` ("prosody: no speech found") is made from."""


class Backend(Protocol):
    """What the pipeline needs from an API (see the module docstring for the guarantees)."""

    name: str
    r"""The API's name: part of every unit's identity in the ledger."""
    endpoint: str
    r"""Where requests go: units made at one endpoint are never reused at another."""
    api: str
    r"""Whose models it measures (``"v0"`` or ``"v1"``: :data:`humekit.predictions.vocabulary.API_MODELS`)."""
    clock: Clock
    r"""Where the ledger's and the progress display's time comes from (the API client's clock)."""

    def check(self, run: Run) -> None:
        """Refuse, before anything is sent, what this backend cannot do with the run's options."""
        ...

    def pack(self, rows: Sequence[RowInput], *, config: str, models: Sequence[str], salt: str,
             limits: InputLimits) -> Plan:
        """The units that send these rows (identical inputs once), and the rows no unit can carry."""
        ...

    def execute(self, units: Sequence[Unit], run: Run) -> Executed:
        """Record and send every unit (see the guarantees); store each answer the moment it exists."""
        ...

    def resume(self, unit_keys: Sequence[str], rows: Mapping[str, RowInput], run: Run) -> Executed:
        """Finish the units among ``unit_keys`` that an earlier run recorded but never confirmed sent."""
        ...

    def collect(self, unit_keys: Sequence[str], run: Run) -> None:
        """Wait for the answers of these units (already sent) and store them; a synchronous API has
        nothing to wait for. Raises :class:`~humekit.WaitTimeoutError` when ``run.timeout`` runs out."""
        ...

    def decode(self, kind: str, answer: bytes, *, request: Mapping[str, Any]) -> Decoded:
        """A stored answer as tables keyed by input; ``request`` is what the ledger recorded when the unit was
        claimed (where a window starts, when each frame was taken: what puts the answer on the input's clock)."""
        ...

    def request(self, unit: Unit) -> dict[str, Any]:
        """What the ledger records about a unit's request (no media bytes)."""
        ...

    def billed_seconds(self, request: Mapping[str, Any]) -> float | None:
        """What the API bills for one unit, from the request recorded for it (the same before and after it is
        sent: no stored answer is read again to price it); ``None`` when humekit does not know the pricing."""
        ...

    def in_flight(self, unit_keys: Sequence[str], ledger: Ledger) -> list[str]:
        """What is still running or being sent among these units (for the message after a Ctrl-C)."""
        ...
