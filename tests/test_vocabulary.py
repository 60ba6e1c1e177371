"""Tests for humekit.predictions.vocabulary: the one unknown-model check."""

from __future__ import annotations

import pandas as pd
import pytest

import humekit
from humekit.errors import ConfigurationError, UnknownModelError
from humekit.predictions.vocabulary import MODELS, check_models


def test_check_models_accepts_hume_models_and_a_single_name():
    """Known names come back as a set; a bare string is one name, not its letters."""
    assert check_models(["face", "prosody"]) == {"face", "prosody"}
    assert check_models("face") == {"face"}
    assert check_models(MODELS) == set(MODELS)


def test_check_models_names_every_unknown_model_and_the_choices():
    """One exception type (a ConfigurationError, also a ValueError) naming each unknown name and the choices."""
    with pytest.raises(UnknownModelError, match=r"unknown model\(s\) \['emotion', 'prosdy'\]; choose from") as err:
        check_models(["prosdy", "face", "emotion"])
    assert isinstance(err.value, ConfigurationError) and isinstance(err.value, ValueError)
    assert err.value.unknown == ["emotion", "prosdy"]


@pytest.mark.parametrize("call, error", [
    (lambda: humekit.measure(pd.DataFrame({"id": ["a"], "source": ["Hi."]}), id_col="id", source_col="source",
                             models=["prosdy"], client=humekit.Client(api_key="k", base_url="http://127.0.0.1:9")),
     UnknownModelError),
    (lambda: humekit.validate(pd.DataFrame({"id": ["a"], "source": ["Hi."]}), id_col="id", source_col="source",
                              models=["prosdy"]), humekit.TableError),
    (lambda: humekit.to_frame([], models=["prosdy"]), UnknownModelError),
], ids=["measure", "validate", "to_frame"])
def test_every_entry_point_uses_the_one_check(call, error):
    """measure, validate and to_frame refuse an unknown model with the one check's message."""
    with pytest.raises(error, match=r"unknown model\(s\) \['prosdy'\]; choose from Hume's batch models"):
        call()


def test_job_failed_error_is_deprecated_but_importable():
    """JobFailedError left the public API (nothing raises it); humekit.JobFailedError still resolves, warning."""
    assert "JobFailedError" not in humekit.__all__
    with pytest.warns(DeprecationWarning, match="never raised"):
        cls = humekit.JobFailedError
    assert issubclass(cls, humekit.HumekitError)
