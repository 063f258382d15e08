"""Target input: Input, InputPath and InputTransformer, with AWS's documented examples."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cumulo.errors import ValidationException
from cumulo.events._jsonpath import MISSING, parse_json_path
from cumulo.events.transform import (
    MAX_INPUT_PATHS,
    PREDEFINED_VARIABLES,
    InputTransformer,
    TargetInput,
    apply_input_path,
    compile_input_transformer,
    compile_target_input,
)

# The example event of "Amazon EventBridge input transformation".
EVENT = {
    "version": "0", "id": "7bf73129-1428-4cd3-a780-95db273d1602", "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2", "account": "123456789012", "time": "2015-11-11T21:29:54Z", "region": "us-east-1",
    "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
    "detail": {"instance-id": "i-0123456789", "state": "RUNNING"},
}
PATHS = {"timestamp": "$.time", "instance": "$.detail.instance-id", "state": "$.detail.state"}
RULE_ARN = "arn:aws:events:us-east-2:123456789012:rule/example"


def render(template: str, paths: dict[str, str] | None = None, event: dict[str, Any] | None = None, **kw: Any) -> str:
    transformer = compile_input_transformer(PATHS if paths is None else paths, template)
    return transformer.render(EVENT if event is None else event, "example", RULE_ARN, **kw)


def refused(paths: Any, template: Any, **kw: Any) -> str:
    with pytest.raises(ValidationException) as info:
        compile_input_transformer(paths, template, **kw)
    assert info.value.status == 400 and info.value.type == "ValidationException"
    return info.value.message


# --- the documented examples ------------------------------------------------------------------

@pytest.mark.parametrize(("template", "output"), [
    ('"instance <instance> is in <state>"', '"instance i-0123456789 is in RUNNING"'),
    ('"instance \\"<instance>\\" is in <state>"', '"instance \\"i-0123456789\\" is in RUNNING"'),
    ('{\n  "instance" : <instance>,\n  "state": <state>\n}', '{"instance":"i-0123456789","state":"RUNNING"}'),
    ('{\n "instance" : <instance>,\n "state": "<state>",\n "instanceStatus": "instance \\"<instance>\\" is in <state>"\n}',
     '{"instance":"i-0123456789","state":"RUNNING","instanceStatus":"instance \\"i-0123456789\\" is in RUNNING"}'),
    ('{\n  "instance" : <instance>,\n  "state": [ 9, <state>, true ],\n  "Transformed" : "Yes"\n}\n',
     '{"instance":"i-0123456789","state":[9,"RUNNING",true],"Transformed":"Yes"}'),
    ('"<aws.events.rule-name> triggered"', '"example triggered"'),
    ("<instance> is in state <state>", "i-0123456789 is in state RUNNING"),
    ('<instance> is in state "<state>"', 'i-0123456789 is in state "RUNNING"'),
])
def test_the_documented_templates(template: str, output: str) -> None:
    assert render(template) == output


def test_reserved_variables_in_json() -> None:
    out = json.loads(render('{"instance": <instance>, "ruleArn": <aws.events.rule-arn>, "ruleName": '
                            '<aws.events.rule-name>, "originalEvent": <aws.events.event>, "full": '
                            '<aws.events.event.json>, "at": <aws.events.event.ingestion-time>}',
                            ingestion_time="2015-11-11T21:29:55.123Z"))
    assert out["ruleArn"] == RULE_ARN and out["ruleName"] == "example" and out["instance"] == "i-0123456789"
    assert out["originalEvent"] == {k: v for k, v in EVENT.items() if k != "detail"}  # without detail
    assert out["full"] == EVENT
    assert out["at"] == "2015-11-11T21:29:55.123Z"


def test_ingestion_time_from_a_datetime_is_iso_8601_utc() -> None:
    moment = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert render('"<aws.events.event.ingestion-time>"', ingestion_time=moment) == '"2024-05-06T05:08:09.123Z"'
    assert render('"<aws.events.event.ingestion-time>"', ingestion_time=datetime(2024, 1, 1)) \
        == '"2024-01-01T00:00:00.000Z"'
    with pytest.raises(ValueError, match="ingestion_time"):
        render('"<aws.events.event.ingestion-time>"')
    assert render('"<aws.events.rule-name>"') == '"example"'  # needed only when used


# --- substitution -----------------------------------------------------------------------------

VALUES = {"s": "$.detail.s", "n": "$.detail.n", "f": "$.detail.f", "b": "$.detail.b", "z": "$.detail.z",
          "o": "$.detail.o", "l": "$.detail.l", "q": "$.detail.q", "missing": "$.detail.nope"}
DETAIL_EVENT = {"detail": {"s": "text", "n": 5, "f": 1.5, "b": True, "z": None, "o": {"k": "v", "n": 1},
                           "l": ["a", 1], "q": 'say "hi"'}}


@pytest.mark.parametrize(("name", "in_json", "in_string", "in_text"), [
    ("s", '"text"', "text", "text"),
    ("n", "5", "5", "5"),
    ("f", "1.5", "1.5", "1.5"),
    ("b", "true", "true", "true"),
    ("z", "null", "null", "null"),
    ("o", '{"k":"v","n":1}', "{k:v,n:1}", '{"k":"v","n":1}'),  # in a string, an object loses its quotes
    ("l", '["a",1]', "[a,1]", '["a",1]'),
    ("q", '"say \\"hi\\""', 'say "hi"', 'say "hi"'),  # in a string, values are not escaped (AWS)
    ("missing", "null", "", ""),
])
def test_how_each_kind_of_value_is_put_in(name: str, in_json: str, in_string: str, in_text: str) -> None:
    assert render(f'{{"v": <{name}>}}', VALUES, DETAIL_EVENT) == f'{{"v":{in_json}}}'
    assert render(f'{{"v": "<{name}>"}}', VALUES, DETAIL_EVENT) == f'{{"v":"{in_string}"}}'
    assert render(f"value: <{name}>", VALUES, DETAIL_EVENT) == f"value: {in_text}"


def test_a_json_template_is_minified_but_strings_keep_their_spaces() -> None:
    assert render('{ "a" : [ 1 , 2 ],\n\t"b" : "  x  y  " }', {}) == '{"a":[1,2],"b":"  x  y  "}'
    assert render('  [ <instance> , "<state>" ]  ') == '["i-0123456789","RUNNING"]'


def test_a_text_template_is_left_as_it_is() -> None:
    assert render("  <instance>  \n <state> ") == "  i-0123456789  \n RUNNING "


def test_escaped_quotes_do_not_end_a_string() -> None:
    assert render('{"a": "x \\" <instance>", "b": <state>}') == '{"a":"x \\" i-0123456789","b":"RUNNING"}'
    assert render('{"a": "back\\\\", "b": <state>}') == '{"a":"back\\\\","b":"RUNNING"}'


def test_a_variable_may_be_used_many_times_and_angle_brackets_that_are_no_placeholder_stay() -> None:
    assert render('"<state> <state> a < b > c <not a placeholder>"') == '"RUNNING RUNNING a < b > c <not a placeholder>"'


def test_wildcards_and_indices_in_paths() -> None:
    event = {"detail": {"items": [{"id": 1}, {"id": 2}], "tags": {"a": "x", "b": "y"}}, "resources": ["r1", "r2"]}
    paths = {"ids": "$.detail.items[*].id", "first": "$.resources[0]", "second": "$.detail.items[1].id",
             "tags": "$.detail.tags.*", "out": "$.resources[5]"}
    assert json.loads(render('{"ids": <ids>, "first": <first>, "second": <second>, "tags": <tags>, "out": <out>}',
                             paths, event)) == {"ids": [1, 2], "first": "r1", "second": 2, "tags": ["x", "y"],
                                                "out": None}


# --- validation -------------------------------------------------------------------------------

def test_placeholders_must_be_defined_or_reserved() -> None:
    assert refused(PATHS, "<nope> is here", target_id="t1") == "InputTemplate for target t1 contains invalid placeholder nope."
    assert refused(PATHS, '"<aws.events.nope>"') == "InputTemplate contains invalid placeholder aws.events.nope."
    for name in PREDEFINED_VARIABLES:
        compile_input_transformer({}, f'{{"v": <{name}>}}')


def test_at_most_100_paths() -> None:
    compile_input_transformer({f"v{i}": "$.x" for i in range(MAX_INPUT_PATHS)}, '"x"')
    assert refused({f"v{i}": "$.x" for i in range(MAX_INPUT_PATHS + 1)}, '"x"') == (
        "1 validation error detected: Value at 'inputTransformer.inputPathsMap' failed to satisfy constraint: "
        "Member must have length less than or equal to 100")


@pytest.mark.parametrize("key", ["aws.events.rule-name", "has space", "", "dot.ted", "x" * 257, "<x>"])
def test_variable_names(key: str) -> None:
    assert "Map keys must satisfy constraint" in refused({key: "$.x"}, '"x"')


def test_valid_variable_names() -> None:
    compile_input_transformer({"a-b_C9": "$.x", "x" * 256: "$.y"}, '"<a-b_C9>"')


@pytest.mark.parametrize("path", ["detail", "", "$.", "$..a", "$.a[", "$.a[x]", "$[-1]", "$ .a", 5, None])
def test_paths_must_be_json_paths(path: Any) -> None:
    assert refused({"v": path}, '"<v>"', target_id="t") \
        == f"InputPathsMap for target t contains an invalid JSON path for v: {path!r}."


def test_path_length() -> None:
    compile_input_transformer({"v": "$." + "a" * 254}, '"<v>"')
    assert "less than or equal to 256" in refused({"v": "$." + "a" * 255}, '"<v>"')


def test_template_length_and_type() -> None:
    compile_input_transformer({}, '"' + "x" * 8190 + '"')
    assert "less than or equal to 8192" in refused({}, '"' + "x" * 8191 + '"')
    assert "greater than or equal to 1" in refused({}, "")
    assert "must not be null" in refused({}, None)
    assert "must be a map" in refused(["$.x"], '"x"')
    compile_input_transformer(None, '"constant"')  # InputPathsMap is optional


@pytest.mark.parametrize("template", ['{"a": <instance>', '{"a": <instance> <state>}', "{a: 1}", '{"a": 1,}',
                                      '[<instance>, ]'])
def test_json_templates_must_be_json(template: str) -> None:
    assert refused(PATHS, template, target_id="t") == "InputTemplate for target t is not a valid JSON text."


@pytest.mark.parametrize("template", ['{"<instance>": 1}', '{"a": {"key-<state>": 1}}'])
def test_placeholders_are_not_keys(template: str) -> None:
    assert "uses a placeholder as an object key" in refused(PATHS, template)


def test_the_compiled_transformer() -> None:
    transformer = compile_input_transformer(PATHS, '{"i": <instance>, "s": "<state>"}')
    assert isinstance(transformer, InputTransformer)
    assert transformer.is_json and transformer.placeholders == {"instance", "state"}
    assert not compile_input_transformer(PATHS, "<instance>").is_json


# --- InputPath ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "value"), [
    ("$", EVENT),
    ("$.detail", EVENT["detail"]),
    ("$.detail.state", "RUNNING"),
    ("$.resources[0]", EVENT["resources"][0]),
    ("$['detail']['instance-id']", "i-0123456789"),
    ('$["detail"].state', "RUNNING"),
    ("$.detail.nope", None),
    ("$.resources[3]", None),
    ("$.detail.state.deeper", None),
    ("$.resources[*]", EVENT["resources"]),
    ("$.nope[*]", []),
])
def test_apply_input_path(path: str, value: Any) -> None:
    assert apply_input_path(EVENT, path) == value


def test_apply_input_path_refuses_what_is_no_path() -> None:
    with pytest.raises(ValidationException, match="is not a valid JSON path"):
        apply_input_path(EVENT, "detail")


def test_json_path_keys_with_slashes_and_dashes() -> None:
    path = parse_json_path("$.a/b.c-d_e")
    assert path is not None and path.find({"a/b": {"c-d_e": 1}}) == 1
    assert path.find({"a": 1}) is MISSING


# --- the target's choice ------------------------------------------------------------------------

def test_no_input_delivers_the_event() -> None:
    target = compile_target_input({"Id": "t", "Arn": "arn:aws:lambda:us-east-1:1:function:f"})
    assert target == TargetInput("t")
    assert json.loads(target.render(EVENT, rule_name="r", rule_arn="a")) == EVENT


def test_input_is_a_constant() -> None:
    target = compile_target_input({"Id": "t", "Input": '{"a": [1, 2]}'})
    assert target.render(EVENT, rule_name="r", rule_arn="a") == '{"a": [1, 2]}'


def test_input_path_delivers_part_of_the_event() -> None:
    target = compile_target_input({"Id": "t", "InputPath": "$.detail"})
    assert json.loads(target.render(EVENT, rule_name="r", rule_arn="a")) == EVENT["detail"]
    missing = compile_target_input({"Id": "t", "InputPath": "$.nope"})
    assert missing.render(EVENT, rule_name="r", rule_arn="a") == "null"


def test_input_transformer_delivers_the_template() -> None:
    target = compile_target_input({"Id": "t", "InputTransformer": {"InputPathsMap": PATHS,
                                                                  "InputTemplate": '"<instance> <aws.events.rule-name>"'}})
    assert target.render(EVENT, rule_name="r", rule_arn="a") == '"i-0123456789 r"'


@pytest.mark.parametrize("target", [
    {"Id": "t", "Input": "{}", "InputPath": "$"},
    {"Id": "t", "Input": "{}", "InputTransformer": {"InputTemplate": '"x"'}},
    {"Id": "t", "InputPath": "$", "InputTransformer": {"InputTemplate": '"x"'}},
])
def test_input_input_path_and_input_transformer_are_mutually_exclusive(target: dict[str, Any]) -> None:
    with pytest.raises(ValidationException, match="mutually exclusive for target t"):
        compile_target_input(target)


@pytest.mark.parametrize(("target", "message"), [
    ({"Id": "t", "Input": "not json"}, "Input for target t is not a valid JSON text."),
    ({"Id": "t", "Input": '"' + "x" * 8191 + '"'}, "less than or equal to 8192"),
    ({"Id": "t", "Input": 5}, "less than or equal to 8192"),
    ({"Id": "t", "InputPath": "detail"}, "InputPath for target t is not a valid JSON path: 'detail'."),
    ({"Id": "t", "InputPath": "$." + "a" * 255}, "less than or equal to 256"),
    ({"Id": "t", "InputTransformer": "x"}, "must be an object with InputTemplate"),
    ({"Id": "t", "InputTransformer": {"InputPathsMap": {}}}, "must not be null"),
    ({"Id": "t", "InputTransformer": {"InputTemplate": "<x>"}}, "InputTemplate for target t contains invalid placeholder x."),
])
def test_target_input_validation(target: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationException) as info:
        compile_target_input(target)
    assert message in info.value.message


def test_none_means_not_given() -> None:
    assert compile_target_input({"Id": "t", "Input": None, "InputPath": "$"}).input_path is not None


# --- properties --------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text()),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)),
    max_leaves=10,
)


@given(st.dictionaries(st.from_regex(r"[A-Za-z0-9_\-]{1,8}", fullmatch=True), JSON_VALUES, min_size=1, max_size=6))
def test_a_json_template_of_unquoted_variables_round_trips_the_values(values: dict[str, Any]) -> None:
    paths = {name: f"$.detail.{name}" for name in values}
    template = "{" + ", ".join(f'"{name}": <{name}>' for name in values) + "}"
    out = compile_input_transformer(paths, template).render({"detail": values}, "r", "a")
    assert json.loads(out) == values


@given(st.text(st.characters(exclude_characters='"\\<>'), max_size=20))
def test_strings_in_strings_are_put_in_as_they_are(text: str) -> None:
    out = compile_input_transformer({"v": "$.v"}, '{"a": "[<v>]"}').render({"v": text}, "r", "a")
    assert out == '{"a":"[' + text + ']"}'
