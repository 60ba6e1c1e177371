"""The v1 emulator's fault knobs: each fault, scripted and seeded, and which requests they strike."""

from __future__ import annotations

import time

import httpx
import pytest
from _v1 import RUNS, http, jpeg, post_audio, post_images, speech

from humekit.emulator.v1 import FAULTS, V1Emulator, V1Faults


def test_server_busy_without_retry_after():
    """server_busy: 503 ErrorBody code server_busy, no Retry-After, no run; the next request is answered."""
    emu = V1Emulator(faults=V1Faults(script=("server_busy",)))
    client = http(emu)
    busy = post_audio(client, speech(3.0))
    assert busy.status_code == 503 and busy.json()["code"] == "server_busy" and "retry-after" not in busy.headers
    assert emu.runs == []
    assert post_audio(client, speech(3.0)).status_code == 200


def test_server_busy_with_retry_after():
    """server_busy_retry_after: 503 server_busy with Retry-After in whole seconds."""
    emu = V1Emulator(faults=V1Faults(script=("server_busy_retry_after",), retry_after=7))
    busy = post_audio(http(emu), speech(3.0))
    assert busy.status_code == 503 and busy.json()["code"] == "server_busy" and busy.headers["retry-after"] == "7"


def test_gateway_rate_limit_has_a_message_only_body():
    """gateway_rate_limit: 429 {message} with no type or code, and Retry-After."""
    emu = V1Emulator(faults=V1Faults(script=("gateway_rate_limit",), retry_after=2))
    limited = post_images(http(emu), [jpeg()])
    assert limited.status_code == 429 and limited.json() == {"message": "API rate limit exceeded"}
    assert limited.headers["retry-after"] == "2" and emu.runs == []


def test_internal_error():
    """internal_error: 500 ErrorBody code internal_error, no run."""
    emu = V1Emulator(faults=V1Faults(script=("internal_error",)))
    failed = post_audio(http(emu), speech(3.0))
    assert failed.status_code == 500 and failed.json()["code"] == "internal_error" and emu.runs == []


def test_malformed_answer_after_the_run_was_billed():
    """malformed: 200 JSON without the response's fields; the run was recorded and billed."""
    emu = V1Emulator(faults=V1Faults(script=("malformed",)))
    answer = post_audio(http(emu), speech(12.0))
    assert answer.status_code == 200 and "measurements" not in answer.json() and "run_id" not in answer.json()
    assert [r.metered_seconds for r in emu.runs] == [12.0] and emu.requests[0].run_id == emu.runs[0].run_id


def test_truncated_answer_is_not_json():
    """truncated: 200 whose body is cut off mid-JSON; the run was billed."""
    emu = V1Emulator(faults=V1Faults(script=("truncated",)))
    answer = post_audio(http(emu), speech(3.0))
    assert answer.status_code == 200
    with pytest.raises(ValueError):
        answer.json()
    assert len(emu.runs) == 1


def test_drop_closes_the_connection_before_processing():
    """drop: the client sees a dropped connection; nothing was measured."""
    emu = V1Emulator(faults=V1Faults(script=("drop",)))
    with pytest.raises(httpx.RemoteProtocolError):
        post_audio(http(emu), speech(3.0))
    assert emu.runs == [] and emu.requests[0].status is None and emu.requests[0].fault == "drop"


def test_lost_response_after_the_run_was_billed():
    """lost_response: measured and billed, then the connection closes; the record names the run."""
    emu = V1Emulator(faults=V1Faults(script=("lost_response",)))
    with pytest.raises(httpx.RemoteProtocolError):
        post_audio(http(emu), speech(11.0))
    assert [r.metered_seconds for r in emu.runs] == [11.0]
    assert emu.requests[0].status is None and emu.requests[0].run_id == emu.runs[0].run_id


def test_drop_over_a_real_socket():
    """Served on loopback, a dropped connection reaches httpx as a protocol error, then service resumes."""
    with V1Emulator(faults=V1Faults(script=("drop", "none"))) as emu:
        with httpx.Client(base_url=emu.url, headers={"X-Hume-Api-Key": emu.api_key}) as client:
            with pytest.raises(httpx.RemoteProtocolError):
                post_audio(client, speech(3.0))
            assert post_audio(client, speech(3.0)).status_code == 200


def test_latency_delays_every_answer():
    """latency: every route waits at least that long before answering."""
    emu = V1Emulator(faults=V1Faults(latency=0.05, applies_to="uploads"))
    started = time.monotonic()
    http(emu).get(RUNS)
    assert time.monotonic() - started >= 0.05


def test_script_then_normal_answers_and_only_uploads_by_default():
    """The script strikes the next uploads in order; the runs routes are spared unless applies_to='all'."""
    emu = V1Emulator(faults=V1Faults(script=("internal_error", "none", "server_busy")))
    client = http(emu)
    statuses = []
    for _ in range(4):
        statuses.append(post_audio(client, speech(3.0)).status_code)
        assert client.get(RUNS).status_code == 200
    assert statuses == [500, 200, 503, 200]
    emu.faults = V1Faults(script=("server_busy",), applies_to="all")
    assert client.get(RUNS).status_code == 503


def test_rates_are_seeded_and_repeatable():
    """The same seed and rates give the same fault sequence; another seed another one."""
    def sequence(seed: int) -> list[str]:
        emu = V1Emulator(faults=V1Faults(rates={"internal_error": 0.3, "server_busy": 0.2}, seed=seed))
        client = http(emu)
        for _ in range(40):
            client.get(RUNS)  # the runs routes are spared: no draw
            post_images(client, [jpeg()])
        return [r.fault for r in emu.requests if r.method == "POST"]

    first = sequence(3)
    assert first == sequence(3) and first != sequence(4)
    assert {"internal_error", "server_busy", "none"} == set(first)


def test_setting_faults_restarts_the_script():
    """Assigning emu.faults replaces the knobs and starts their script again."""
    emu = V1Emulator(faults=V1Faults(script=("server_busy",)))
    client = http(emu)
    assert post_audio(client, speech(3.0)).status_code == 503
    emu.faults = emu.faults
    assert post_audio(client, speech(3.0)).status_code == 503
    assert post_audio(client, speech(3.0)).status_code == 200


@pytest.mark.parametrize("kwargs", [{"script": ("boom",)}, {"rates": {"drop": 1.5}},
                                    {"rates": {"drop": 0.6, "malformed": 0.6}}, {"applies_to": "some"},
                                    {"retry_after": 1.5}, {"latency": -1}])
def test_bad_fault_settings_are_refused(kwargs):
    """Unknown faults, rates outside 0-1 or summing over 1, and bad timings raise ValueError."""
    with pytest.raises(ValueError):
        V1Faults(**kwargs)


def test_every_fault_has_a_meaning():
    """Each fault name is documented in FAULT_MEANINGS."""
    from humekit.emulator.v1 import FAULT_MEANINGS

    assert set(FAULT_MEANINGS) == set(FAULTS)
