"""LoggingConfig as CreateFunction checks it, and as GetFunctionConfiguration reports it."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cumulo.errors import InvalidParameterValueException, ValidationException
from cumulo.model.function import (
    APPLICATION_LOG_LEVELS, SYSTEM_LOG_LEVELS, FunctionConfiguration, validate_logging_config,
)

configs = st.fixed_dictionaries({}, optional={
    "LogFormat": st.sampled_from(["JSON", "Text", "json", ""]),
    "ApplicationLogLevel": st.sampled_from([*APPLICATION_LOG_LEVELS, "VERBOSE"]),
    "SystemLogLevel": st.sampled_from([*SYSTEM_LOG_LEVELS, "ERROR"]),
    "LogGroup": st.sampled_from(["/aws/lambda/f", "/shop/orders", "bad group", ""]),
})


@given(configs)
def test_a_config_is_kept_as_given_or_refused_as_lambda_refuses_it(config: dict[str, Any]) -> None:
    try:
        kept = validate_logging_config(config)
    except (ValidationException, InvalidParameterValueException):
        return
    assert kept == config                                     # nothing added, nothing changed
    assert kept.get("LogFormat") == "JSON" or not {"ApplicationLogLevel", "SystemLogLevel"} & set(kept)
    reported = FunctionConfiguration("f", "app.h", "", 0, logging_config=kept).logging_to_aws()
    assert reported["LogGroup"] == kept.get("LogGroup", "/aws/lambda/f")
    if kept.get("LogFormat") == "JSON":
        assert reported["ApplicationLogLevel"] == kept.get("ApplicationLogLevel", "INFO")
        assert reported["SystemLogLevel"] == kept.get("SystemLogLevel", "INFO")
    else:
        assert set(reported) == {"LogFormat", "LogGroup"} and reported["LogFormat"] == "Text"


@pytest.mark.parametrize("config, error", [
    ({"LogFormat": "Text", "SystemLogLevel": "WARN"}, InvalidParameterValueException),
    ({"ApplicationLogLevel": "INFO"}, InvalidParameterValueException),
    ({"LogFormat": "YAML"}, ValidationException),
    ({"LogGroup": "has space"}, ValidationException),
    ({"Format": "JSON"}, InvalidParameterValueException),
])
def test_refusals(config: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        validate_logging_config(config)
