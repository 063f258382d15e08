"""Function configuration: validators (AWS's limits and messages), references, the AWS document."""

from __future__ import annotations

import base64
import hashlib
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cumulo.errors import InvalidParameterValueException, ValidationException
from cumulo.model import limits
from cumulo.model.function import (
    LATEST,
    PYTHON_RUNTIMES,
    RESERVED_ENV_KEYS,
    Arns,
    FunctionConfiguration,
    parse_function_ref,
    validate_description,
    validate_environment,
    validate_ephemeral_storage,
    validate_function_name,
    validate_handler,
    validate_memory,
    validate_runtime,
    validate_timeout,
)

NAME_ALPHABET = string.ascii_letters + string.digits + "_-"
names = st.text(NAME_ALPHABET, min_size=1, max_size=64)
ARNS = Arns(region="us-east-1", account="123456789012")


# -- function names -----------------------------------------------------------
@given(names)
def test_valid_names_are_accepted_unchanged(name: str) -> None:
    assert validate_function_name(name) == name


@pytest.mark.parametrize("name", ["", "a" * 65, "my function", "fn.py", "fn:1", "fñ", "fn/x", "fn\n", "\nfn"])
def test_invalid_names_are_refused(name: str) -> None:
    with pytest.raises(ValidationException) as info:
        validate_function_name(name)
    assert info.value.message.startswith("1 validation error detected: Value ")
    assert "at 'functionName' failed to satisfy constraint" in info.value.message


def test_name_of_64_characters_is_the_longest_accepted() -> None:
    assert validate_function_name("a" * 64) == "a" * 64


@given(st.text(min_size=1, max_size=80).filter(lambda s: not all(c in NAME_ALPHABET for c in s)))
def test_any_name_with_a_character_outside_the_pattern_is_refused(name: str) -> None:
    with pytest.raises(ValidationException):
        validate_function_name(name)


def test_non_string_name_is_refused() -> None:
    with pytest.raises(ValidationException):
        validate_function_name(123)  # type: ignore[arg-type]


# -- handler, runtime, description ---------------------------------------------
@pytest.mark.parametrize("handler", ["app.handler", "pkg/mod.fn", "a", "x" * limits.HANDLER_MAX])
def test_valid_handlers_are_accepted(handler: str) -> None:
    assert validate_handler(handler) == handler


@pytest.mark.parametrize("handler", ["", "app. handler", "app.handler ", "\tapp.h", "app.h\n", "x" * (limits.HANDLER_MAX + 1)])
def test_invalid_handlers_are_refused(handler: str) -> None:
    with pytest.raises(ValidationException) as info:
        validate_handler(handler)
    assert "at 'handler' failed to satisfy constraint" in info.value.message


@pytest.mark.parametrize("runtime", sorted(PYTHON_RUNTIMES))
def test_python_runtimes_are_accepted(runtime: str) -> None:
    assert validate_runtime(runtime) == runtime


@pytest.mark.parametrize("runtime", ["nodejs20.x", "nodejs22.x", "provided", "provided.al2023"])
def test_runtime_api_runtimes_are_accepted(runtime: str) -> None:
    assert validate_runtime(runtime) == runtime


def test_a_supported_runtime_this_machine_cannot_run_is_unusable() -> None:
    with pytest.raises(InvalidParameterValueException) as info:
        validate_runtime("nodejs22.x", "needs Node.js 22")
    assert "nodejs22.x" in info.value.message and "needs Node.js 22" in info.value.message


@pytest.mark.parametrize("runtime", ["java21", "dotnet8", "ruby3.3"])
def test_other_aws_runtimes_are_unusable_not_invalid(runtime: str) -> None:
    with pytest.raises(InvalidParameterValueException) as info:
        validate_runtime(runtime)
    assert runtime in info.value.message
    assert "python3.12" in info.value.message   # tells the user what is supported


@pytest.mark.parametrize("runtime", ["python2.7", "python3", "cobol", "", "Python3.12"])
def test_unknown_runtimes_break_the_enum_constraint(runtime: str) -> None:
    with pytest.raises(ValidationException) as info:
        validate_runtime(runtime)
    assert "at 'runtime' failed to satisfy constraint: Member must satisfy enum value set" in info.value.message


def test_description_up_to_256_characters() -> None:
    assert validate_description("") == ""
    assert validate_description("d" * 256) == "d" * 256
    with pytest.raises(ValidationException) as info:
        validate_description("d" * 257)
    assert "Member must have length less than or equal to 256" in info.value.message


def test_non_string_description_is_refused() -> None:
    with pytest.raises(ValidationException):
        validate_description(None)  # type: ignore[arg-type]


# -- integer settings ------------------------------------------------------------
INT_SETTINGS = [
    (validate_memory, "memorySize", 128, 10240),
    (validate_timeout, "timeout", 1, 900),
    (validate_ephemeral_storage, "ephemeralStorage.size", 512, 10240),
]


@pytest.mark.parametrize(("validate", "member", "low", "high"), INT_SETTINGS)
def test_integer_settings_accept_their_aws_range_inclusive(validate, member, low, high) -> None:  # type: ignore[no-untyped-def]
    assert validate(low) == low
    assert validate(high) == high
    assert validate((low + high) // 2) == (low + high) // 2


@pytest.mark.parametrize(("validate", "member", "low", "high"), INT_SETTINGS)
def test_integer_settings_below_minimum_are_refused_with_aws_message(validate, member, low, high) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationException) as info:
        validate(low - 1)
    assert info.value.message == (
        f"1 validation error detected: Value '{low - 1}' at '{member}' failed to satisfy "
        f"constraint: Member must have value greater than or equal to {low}"
    )


@pytest.mark.parametrize(("validate", "member", "low", "high"), INT_SETTINGS)
def test_integer_settings_above_maximum_are_refused_with_aws_message(validate, member, low, high) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationException) as info:
        validate(high + 1)
    assert info.value.message == (
        f"1 validation error detected: Value '{high + 1}' at '{member}' failed to satisfy "
        f"constraint: Member must have value less than or equal to {high}"
    )


@pytest.mark.parametrize(("validate", "member", "low", "high"), INT_SETTINGS)
@pytest.mark.parametrize("value", [True, "256", 256.0, None])
def test_integer_settings_refuse_non_integers(validate, member, low, high, value) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationException) as info:
        validate(value)
    assert f"at '{member}'" in info.value.message


@given(st.integers(min_value=-(10**6), max_value=10**6))
def test_memory_accepted_exactly_when_in_range(mb: int) -> None:
    if 128 <= mb <= 10240:
        assert validate_memory(mb) == mb
    else:
        with pytest.raises(ValidationException):
            validate_memory(mb)


@given(st.integers(min_value=-10, max_value=2000))
def test_timeout_accepted_exactly_when_in_range(seconds: int) -> None:
    if 1 <= seconds <= 900:
        assert validate_timeout(seconds) == seconds
    else:
        with pytest.raises(ValidationException):
            validate_timeout(seconds)


# -- environment -----------------------------------------------------------------
def test_environment_is_copied_not_aliased() -> None:
    variables = {"TABLE": "orders", "LOG_LEVEL": "debug"}
    result = validate_environment(variables)
    assert result == variables
    variables["TABLE"] = "changed"
    assert result["TABLE"] == "orders"


def test_empty_environment_is_fine() -> None:
    assert validate_environment({}) == {}


@pytest.mark.parametrize("key", ["TZ", "LANG", "PATH", "AWS_XRAY_CONTEXT_MISSING", "a1", "Ab_9"])
def test_ordinary_keys_are_accepted(key: str) -> None:
    assert validate_environment({key: "v"}) == {key: "v"}


@pytest.mark.parametrize("key", ["A", "1ABC", "_X", "MY-VAR", "MY VAR", "", "ÄB", "AB\n"])
def test_keys_breaking_the_aws_pattern_are_refused(key: str) -> None:
    with pytest.raises(ValidationException) as info:
        validate_environment({key: "v"})
    assert "Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+" in info.value.message
    assert "Value '[sensitive]' at 'environment.variables'" in info.value.message   # keys may be secret


@given(st.from_regex(r"\A[a-zA-Z][a-zA-Z0-9_]{1,30}\Z").filter(lambda k: k not in RESERVED_ENV_KEYS))
def test_every_key_matching_the_pattern_is_accepted(key: str) -> None:
    assert validate_environment({key: "x"}) == {key: "x"}


@pytest.mark.parametrize("key", sorted(k for k in RESERVED_ENV_KEYS if k[0].isalpha()))
def test_reserved_keys_are_refused_with_aws_message(key: str) -> None:
    with pytest.raises(InvalidParameterValueException) as info:
        validate_environment({"OK_KEY": "1", key: "x"})
    assert info.value.message == (
        "Lambda was unable to configure your environment variables because the environment "
        "variables you have provided contains reserved keys that are currently not supported "
        f"for modification. Reserved keys used in this request: {key}"
    )


def test_all_reserved_keys_used_are_listed() -> None:
    with pytest.raises(InvalidParameterValueException) as info:
        validate_environment({"AWS_REGION": "x", "AWS_ACCESS_KEY_ID": "y", "FINE": "z"})
    assert info.value.message.endswith("Reserved keys used in this request: AWS_ACCESS_KEY_ID, AWS_REGION")


def test_aws_documented_reserved_keys_are_all_known() -> None:
    assert {"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_RUNTIME_API",
            "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "_HANDLER"} <= RESERVED_ENV_KEYS


def test_non_string_value_is_refused() -> None:
    with pytest.raises(InvalidParameterValueException):
        validate_environment({"COUNT": 3})  # type: ignore[dict-item]


def test_non_mapping_environment_is_refused() -> None:
    with pytest.raises(InvalidParameterValueException):
        validate_environment([("A", "b")])  # type: ignore[arg-type]


def test_environment_of_exactly_4kb_is_accepted() -> None:
    variables = {"KEY_ONE": "a" * 2000, "KEY_TWO": "b" * (4096 - 2000 - 14)}
    assert sum(len(k) + len(v) for k, v in variables.items()) == 4096
    assert validate_environment(variables) == variables


def test_environment_over_4kb_is_refused() -> None:
    variables = {"KEY_ONE": "a" * 2000, "KEY_TWO": "b" * (4097 - 2000 - 14)}
    with pytest.raises(InvalidParameterValueException) as info:
        validate_environment(variables)
    assert info.value.message.startswith(
        "Lambda was unable to configure your environment variables because the environment "
        "variables you have provided exceeded the 4KB limit."
    )


def test_environment_size_counts_bytes_not_characters() -> None:
    assert validate_environment({"AB": "é" * 2047})                 # 2 + 4094 bytes
    with pytest.raises(InvalidParameterValueException):
        validate_environment({"AB": "é" * 2048})                    # 2 + 4096 bytes


def test_environment_size_counts_keys_too() -> None:
    with pytest.raises(InvalidParameterValueException):
        validate_environment({"K" * 100: "v" * 4000})


# -- function references -----------------------------------------------------------
@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("my-fn", ("my-fn", None)),
        ("my-fn:7", ("my-fn", "7")),
        ("my-fn:$LATEST", ("my-fn", "$LATEST")),
        ("my-fn:live", ("my-fn", "live")),
        ("123456789012:function:my-fn", ("my-fn", None)),
        ("123456789012:function:my-fn:3", ("my-fn", "3")),
        ("arn:aws:lambda:us-east-1:123456789012:function:my-fn", ("my-fn", None)),
        ("arn:aws:lambda:us-east-1:123456789012:function:my-fn:prod", ("my-fn", "prod")),
        ("arn:aws:lambda:eu-west-3:123456789012:function:my_fn:$LATEST", ("my_fn", "$LATEST")),
        ("arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:f", ("f", None)),
    ],
)
def test_references_are_split_into_name_and_qualifier(ref: str, expected: tuple[str, str | None]) -> None:
    assert parse_function_ref(ref) == expected


@given(names, st.one_of(st.none(), st.just("$LATEST"), st.integers(1, 10**9).map(str)))
def test_full_arn_round_trips_through_arns(name: str, qualifier: str | None) -> None:
    arn = ARNS.function(name, qualifier)
    assert parse_function_ref(arn) == (name, qualifier)
    assert parse_function_ref(f"123456789012:function:{name}" + (f":{qualifier}" if qualifier else "")) == (name, qualifier)


def test_explicit_qualifier_applies_to_plain_name() -> None:
    assert parse_function_ref("my-fn", "5") == ("my-fn", "5")


def test_explicit_qualifier_agreeing_with_embedded_one_is_fine() -> None:
    assert parse_function_ref("arn:aws:lambda:us-east-1:123456789012:function:my-fn:5", "5") == ("my-fn", "5")


@pytest.mark.parametrize("ref", ["my-fn:5", "123456789012:function:my-fn:5",
                                 "arn:aws:lambda:us-east-1:123456789012:function:my-fn:5"])
def test_conflicting_qualifiers_are_refused(ref: str) -> None:
    with pytest.raises(InvalidParameterValueException) as info:
        parse_function_ref(ref, "6")
    assert info.value.message == (
        "The derived qualifier from the function name does not match the specified qualifier."
    )


@pytest.mark.parametrize(
    "ref",
    ["", "my fn", "a" * 65, "arn:aws:lambda:us-east-1:123456789012:function:", "my-fn:",
     "arn:aws:lambda:us-east-1:123456789012:function:" + "a" * 65, "a" * 171, "fn:1:2", "fn\n", "fn:1\n"],
)
def test_malformed_references_are_refused(ref: str) -> None:
    with pytest.raises(ValidationException) as info:
        parse_function_ref(ref)
    assert "at 'functionName' failed to satisfy constraint" in info.value.message


@pytest.mark.parametrize("qualifier", ["12345678901", "bad qualifier", "v1.0", "a" * 129, "1\n"])
def test_malformed_qualifiers_are_refused(qualifier: str) -> None:
    with pytest.raises(ValidationException) as info:
        parse_function_ref("my-fn", qualifier)
    assert "at 'qualifier'" in info.value.message


def test_longest_name_in_a_full_arn_is_accepted() -> None:
    arn = "arn:aws:lambda:us-east-1:123456789012:function:" + "a" * 64 + ":$LATEST"
    assert parse_function_ref(arn) == ("a" * 64, "$LATEST")


# -- ARNs and the AWS document --------------------------------------------------------
def test_arns() -> None:
    assert ARNS.function("f") == "arn:aws:lambda:us-east-1:123456789012:function:f"
    assert ARNS.function("f", "3") == "arn:aws:lambda:us-east-1:123456789012:function:f:3"
    assert ARNS.default_role().startswith("arn:aws:iam::123456789012:role/")


def _config(**changes: object) -> FunctionConfiguration:
    digest = hashlib.sha256(b"zip bytes").digest()
    base = FunctionConfiguration(
        name="orders", handler="app.handler", code_sha256=base64.b64encode(digest).decode(),
        code_size=1234, runtime="python3.12", memory_size=256, timeout=30, ephemeral_storage=1024,
        environment={"TABLE": "orders"}, description="takes orders", revision_id="rev-1",
        last_modified="2024-05-01T10:00:00.000+0000",
    )
    return base.replace(**changes)


def test_defaults_are_aws_defaults() -> None:
    config = FunctionConfiguration(name="f", handler="app.handler", code_sha256="", code_size=0)
    assert (config.memory_size, config.timeout, config.ephemeral_storage, config.version) == (128, 3, 512, LATEST)
    assert config.environment == {}


def test_latest_document_has_unqualified_arn_and_all_fields() -> None:
    config = _config()
    doc = config.to_aws(ARNS)
    assert doc["FunctionName"] == "orders"
    assert doc["FunctionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:orders"
    assert doc["Version"] == "$LATEST"
    assert doc["Runtime"] == "python3.12"
    assert doc["Handler"] == "app.handler"
    assert doc["CodeSize"] == 1234
    assert doc["CodeSha256"] == config.code_sha256
    assert doc["MemorySize"] == 256
    assert doc["Timeout"] == 30
    assert doc["EphemeralStorage"] == {"Size": 1024}
    assert doc["Environment"] == {"Variables": {"TABLE": "orders"}}
    assert doc["Description"] == "takes orders"
    assert doc["RevisionId"] == "rev-1"
    assert doc["LastModified"] == "2024-05-01T10:00:00.000+0000"
    assert doc["PackageType"] == "Zip"
    assert doc["State"] == "Active"
    assert doc["LastUpdateStatus"] == "Successful"
    assert doc["LoggingConfig"]["LogGroup"] == "/aws/lambda/orders"
    assert doc["Role"] == ARNS.default_role()


def test_version_document_has_qualified_arn() -> None:
    doc = _config(version="7").to_aws(ARNS)
    assert doc["FunctionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:orders:7"
    assert doc["Version"] == "7"


def test_explicit_role_is_reported() -> None:
    role = "arn:aws:iam::123456789012:role/orders-role"
    assert _config(role=role).to_aws(ARNS)["Role"] == role


def test_state_overrides_are_merged() -> None:
    doc = _config().to_aws(ARNS, {"State": "Pending", "StateReason": "warming"})
    assert (doc["State"], doc["StateReason"]) == ("Pending", "warming")


def test_document_environment_is_a_copy() -> None:
    config = _config()
    config.to_aws(ARNS)["Environment"]["Variables"]["TABLE"] = "tampered"
    assert config.environment == {"TABLE": "orders"}


def test_code_hex_is_the_hex_of_code_sha256() -> None:
    digest = hashlib.sha256(b"zip bytes").digest()
    assert _config().code_hex == digest.hex()


def test_dict_round_trip() -> None:
    config = _config(version="2", role="r")
    assert FunctionConfiguration.from_dict(config.to_dict()) == config


def test_replace_leaves_original_untouched() -> None:
    config = _config()
    changed = config.replace(timeout=60)
    assert (config.timeout, changed.timeout) == (30, 60)


# -- SnapStart -------------------------------------------------------------------------------
def _snap_config(**changes: object) -> FunctionConfiguration:
    return FunctionConfiguration("f", "app.handler", "c2hh", 1).replace(**changes)


def test_snap_start_apply_on_takes_aws_values_only() -> None:
    from cumulo.model.function import validate_snap_start

    assert validate_snap_start("PublishedVersions") == "PublishedVersions"
    assert validate_snap_start("None") == "None"
    for bad in ("none", "AllVersions", None, 1):
        with pytest.raises(ValidationException):
            validate_snap_start(bad)


@pytest.mark.parametrize("apply_on, version, applies", [
    (None, LATEST, True), (None, "3", True),                  # Cumulo's default: every version
    ("None", LATEST, False), ("None", "3", False),            # explicit None turns it off
    ("PublishedVersions", LATEST, False), ("PublishedVersions", "3", True),   # AWS's meaning
])
def test_snap_start_applies(apply_on: str | None, version: str, applies: bool) -> None:
    config = _snap_config(snap_start=apply_on, version=version)
    assert config.snap_start_applies is applies
    doc = config.to_aws(Arns("us-east-1", "000000000000"))["SnapStart"]
    # Reported as AWS reports the setting: On only for a published version of PublishedVersions.
    # Cumulo's default forks templates but reports what was set (None), so never On with None.
    on = apply_on == "PublishedVersions" and version != LATEST
    assert doc == {"ApplyOn": apply_on or "None", "OptimizationStatus": "On" if on else "Off"}


@pytest.mark.parametrize("runtime", ["nodejs20.x", "provided.al2023"])
def test_snap_start_never_applies_to_runtime_api_runtimes(runtime: str) -> None:
    config = _snap_config(runtime=runtime, version="3")
    assert config.snap_start_applies is False
    assert config.to_aws(Arns("us-east-1", "000000000000"))["SnapStart"]["OptimizationStatus"] == "Off"


def test_configurations_stored_before_snapstart_still_load() -> None:
    old = _snap_config().to_dict()
    del old["snap_start"]
    assert FunctionConfiguration.from_dict(old).snap_start is None


# -- VpcConfig: in a VPC, no outbound network ----------------------------------------------------
def test_vpc_config_is_normalised_and_both_empty_lists_mean_no_vpc() -> None:
    from cumulo.model.function import validate_vpc_config

    vpc = validate_vpc_config({"SubnetIds": ["subnet-0a", "subnet-0a", "subnet-1b"], "SecurityGroupIds": ["sg-0A"]})
    assert vpc == {"SubnetIds": ["subnet-0a", "subnet-1b"], "SecurityGroupIds": ["sg-0A"],
                   "Ipv6AllowedForDualStack": False}
    assert validate_vpc_config({"SubnetIds": [], "SecurityGroupIds": []}) == {}
    assert validate_vpc_config({}) == validate_vpc_config(None) == {}


@pytest.mark.parametrize("vpc, error", [
    ({"SubnetIds": ["subnet-1"]}, InvalidParameterValueException),
    ({"SecurityGroupIds": ["sg-1"]}, InvalidParameterValueException),
    ({"SubnetIds": ["subnet-1"], "SecurityGroupIds": ["sg-1"], "VpcId": "vpc-1"}, InvalidParameterValueException),
    ("subnet-1", InvalidParameterValueException),
    ({"SubnetIds": "subnet-1", "SecurityGroupIds": ["sg-1"]}, ValidationException),
    ({"SubnetIds": ["SUBNET-1"], "SecurityGroupIds": ["sg-1"]}, ValidationException),
    ({"SubnetIds": ["subnet-1"], "SecurityGroupIds": ["sg-1!"]}, ValidationException),
    ({"SubnetIds": ["subnet-" + "a" * 1020], "SecurityGroupIds": ["sg-1"]}, ValidationException),
    ({"SubnetIds": ["subnet-1"], "SecurityGroupIds": [f"sg-{i}" for i in range(6)]}, ValidationException),
    ({"SubnetIds": ["subnet-1"], "SecurityGroupIds": ["sg-1"], "Ipv6AllowedForDualStack": "yes"}, ValidationException),
])
def test_vpc_config_is_refused_as_aws_refuses_it(vpc: object, error: type) -> None:
    from cumulo.model.function import validate_vpc_config

    with pytest.raises(error):
        validate_vpc_config(vpc)


def test_a_function_in_a_vpc_has_no_network_and_reports_aws_shape() -> None:
    from cumulo.model.function import validate_vpc_config

    vpc = validate_vpc_config({"SubnetIds": ["subnet-1"], "SecurityGroupIds": ["sg-1"]})
    config = FunctionConfiguration(name="f", handler="app.h", code_sha256="", code_size=0, vpc_config=vpc)
    doc = config.to_aws(ARNS)["VpcConfig"]
    assert doc == {**vpc, "VpcId": doc["VpcId"]} and doc["VpcId"].startswith("vpc-") and len(doc["VpcId"]) == 21
    assert config.to_aws(ARNS)["VpcConfig"]["VpcId"] == doc["VpcId"]            # stable
    assert config.no_network
    assert FunctionConfiguration.from_dict(config.to_dict()) == config
    outside = config.replace(vpc_config={})
    assert not outside.no_network and "VpcConfig" not in outside.to_aws(ARNS)
    stored_before = outside.to_dict()
    del stored_before["vpc_config"]
    assert FunctionConfiguration.from_dict(stored_before).vpc_config == {}
