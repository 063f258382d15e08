"""CloudFormation text and intrinsic functions: short and long forms, lines, each function's rules."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from cumulo.deploy.intrinsics import (
    NO_VALUE, ConditionError, IntrinsicError, Node, Scope, evaluate_conditions, parse, resolve, to_str,
)

PARAMS = {
    "AWS::Region": "eu-west-1",
    "AWS::AccountId": "123456789012",
    "AWS::StackName": "app",
    "Env": "prod",
    "Subnets": ["a", "b", "c"],
    "Size": "256",
}
MAPPINGS = parse("""
RegionMap:
  eu-west-1: {Ami: ami-eu, Zones: [x, y]}
  us-east-1: {Ami: ami-us}
""")
ATTRS = {("Fn", "Ref"): "app-Fn", ("Fn", "Arn"): "arn:aws:lambda:eu-west-1:123456789012:function:app-Fn"}


def lookup(logical_id: str, attribute: str) -> Any:
    if (logical_id, attribute) in ATTRS:
        return ATTRS[(logical_id, attribute)]
    raise IntrinsicError(f"no {logical_id}.{attribute}")


SCOPE = Scope(PARAMS, MAPPINGS, {"IsProd": True, "IsDev": False}, lookup)


def ev(text: str, scope: Scope = SCOPE) -> Any:
    """Resolve the value of key ``v`` in a YAML snippet."""
    return resolve(parse(text)["v"], scope)


def fails(text: str, match: str, scope: Scope = SCOPE) -> IntrinsicError:
    with pytest.raises(IntrinsicError, match=match) as info:
        ev(text, scope)
    return info.value


# --- text ---------------------------------------------------------------------------------

def test_short_forms_become_long_forms() -> None:
    doc = parse("""
a: !Ref X
b: !GetAtt A.B
c: !GetAtt [A, B]
d: !Sub "x${Y}"
e: !Join [",", [p, q]]
f: !Condition IsProd
g: !Equals [1, 2]
""")
    assert doc == {
        "a": {"Ref": "X"}, "b": {"Fn::GetAtt": "A.B"}, "c": {"Fn::GetAtt": ["A", "B"]},
        "d": {"Fn::Sub": "x${Y}"}, "e": {"Fn::Join": [",", ["p", "q"]]}, "f": {"Condition": "IsProd"},
        "g": {"Fn::Equals": [1, 2]},
    }


def test_every_mapping_knows_its_lines() -> None:
    doc = parse("Resources:\n\n  Fn:\n    Type: T\n    Properties:\n      Timeout: !Ref T\n")
    fn = doc["Resources"]["Fn"]
    assert isinstance(fn, Node)
    assert doc.line_of("Resources") == 1
    assert doc["Resources"].line_of("Fn") == 3
    assert fn.line_of("Properties") == 5
    assert fn["Properties"].line_of("Timeout") == 6
    assert fn["Properties"]["Timeout"].line == 6


def test_dates_stay_strings_and_keys_become_strings() -> None:
    doc = parse("AWSTemplateFormatVersion: 2010-09-09\n123456789012: yes\ntrue: 1\n")
    assert doc == {"AWSTemplateFormatVersion": "2010-09-09", "123456789012": True, "true": 1}


def test_duplicate_keys_are_refused_with_their_line() -> None:
    with pytest.raises(IntrinsicError, match="duplicate key 'a'") as info:
        parse("a: 1\nb: 2\na: 3\n")
    assert info.value.line == 3


def test_unknown_tags_and_bad_text_name_their_line() -> None:
    with pytest.raises(IntrinsicError, match="!Nope") as info:
        parse("a: 1\nb: !Nope x\n")
    assert info.value.line == 2
    with pytest.raises(IntrinsicError, match="not valid YAML") as info:
        parse("a: [1, 2\nb: 3\n")
    assert info.value.line is not None


def test_json_with_tab_indentation() -> None:
    doc = parse('{\n\t"a": {\n\t\t"Ref": "X"\n\t},\n\t"b": "x\\ty"\n}')
    assert doc == {"a": {"Ref": "X"}, "b": "x\ty"}
    assert doc.line_of("b") == 5


def test_merge_keys_and_anchors_work() -> None:
    doc = parse("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\n")
    assert doc["other"] == {"x": 1, "y": 3}


def test_to_str_matches_cloudformation() -> None:
    assert [to_str(True), to_str(False), to_str(3), to_str("s")] == ["true", "false", "3", "s"]
    with pytest.raises(IntrinsicError):
        to_str([1])


# --- Ref, GetAtt --------------------------------------------------------------------------

def test_ref_parameters_pseudo_parameters_and_resources() -> None:
    assert ev("v: !Ref Env") == "prod"
    assert ev("v: !Ref AWS::Region") == "eu-west-1"
    assert ev("v: !Ref Subnets") == ["a", "b", "c"]
    assert ev("v: !Ref Fn") == "app-Fn"
    assert ev("v: {Ref: Env}") == "prod"
    fails("v: !Ref Nope", "no Nope.Ref")
    fails("v: !Ref AWS::Nope", "unknown pseudo parameter 'AWS::Nope'")
    fails("v: !Ref [a]", "Ref takes a name")


def test_no_value_removes_the_key_or_item() -> None:
    assert ev("v: {a: !Ref AWS::NoValue, b: 1}") == {"b": 1}
    assert ev("v: [1, !Ref AWS::NoValue, 2]") == [1, 2]
    assert ev("v: !Ref AWS::NoValue") is NO_VALUE


def test_get_att_string_and_list_forms() -> None:
    arn = ATTRS[("Fn", "Arn")]
    assert ev("v: !GetAtt Fn.Arn") == arn
    assert ev("v: !GetAtt [Fn, Arn]") == arn
    assert ev('v: {"Fn::GetAtt": [Fn, Arn]}') == arn
    assert ev('v: {"Fn::GetAtt": [Fn, !Join ["", [A, rn]]]}') == arn
    fails("v: !GetAtt FnArn", "LogicalId.Attribute")
    fails("v: !GetAtt [Fn]", r"\[LogicalId, Attribute\]")


# --- Sub ----------------------------------------------------------------------------------

def test_sub_string_form() -> None:
    assert ev('v: !Sub "${AWS::StackName}-${Env}-${Fn}"') == "app-prod-app-Fn"
    assert ev('v: !Sub "arn=${Fn.Arn}"') == f"arn={ATTRS[('Fn', 'Arn')]}"
    assert ev('v: !Sub "literal ${!Env} and $Env"') == "literal ${Env} and $Env"


def test_sub_list_form_variables_win() -> None:
    assert ev('v: !Sub ["${Env}/${Name}", {Name: !Ref AWS::Region, Env: local}]') == "local/eu-west-1"
    assert ev('v: {"Fn::Sub": ["${X}", {X: 5}]}') == "5"


def test_sub_faults() -> None:
    fails('v: !Sub "${Subnets}"', r"\$\{Subnets\} must be a string, got a list")
    fails('v: !Sub "${Missing}"', "no Missing.Ref")
    fails('v: !Sub "${}"', "empty variable")
    fails("v: !Sub [a, b, c]", "Fn::Sub takes")
    fails("v: !Sub [x, [1]]", "variables must be a map")


# --- Join, Select, Split ------------------------------------------------------------------

def test_join() -> None:
    assert ev('v: !Join [":", [a, !Ref Env, 3, true]]') == "a:prod:3:true"
    assert ev('v: !Join ["-", !Ref Subnets]') == "a-b-c"
    assert ev('v: !Join ["", []]') == ""
    fails('v: !Join [",", x]', "Fn::Join's values must be a list")
    fails('v: !Join [",", [[1]]]', "values must be strings")
    fails("v: !Join [a]", "Fn::Join takes")


def test_select() -> None:
    assert ev("v: !Select [1, [a, b, c]]") == "b"
    assert ev('v: !Select ["2", !Ref Subnets]') == "c"
    assert ev("v: !Select [0, !GetAZs '']") == "eu-west-1a"
    fails("v: !Select [3, [a, b, c]]", "out of range")
    fails("v: !Select [-1, [a]]", "non-negative integer")
    fails("v: !Select [0, a]", "must be a list")


def test_split() -> None:
    assert ev('v: !Split [",", "a,b,,c"]') == ["a", "b", "", "c"]
    assert ev('v: !Select [1, !Split ["-", !Ref AWS::Region]]') == "west"
    fails('v: !Split ["", abc]', "must not be empty")
    fails('v: !Split [",", [a]]', "source must be a string")


# --- If, FindInMap, Base64, GetAZs, unsupported ------------------------------------------

def test_if_picks_a_branch_and_no_value_drops_it() -> None:
    assert ev("v: !If [IsProd, big, small]") == "big"
    assert ev("v: !If [IsDev, big, small]") == "small"
    assert ev("v: {a: !If [IsDev, 1, !Ref AWS::NoValue], b: 2}") == {"b": 2}
    fails("v: !If [Nope, 1, 2]", "unknown condition 'Nope'")
    fails("v: !If [IsProd, 1]", "Fn::If takes")


def test_find_in_map() -> None:
    assert ev("v: !FindInMap [RegionMap, !Ref AWS::Region, Ami]") == "ami-eu"
    assert ev('v: {"Fn::FindInMap": [RegionMap, us-east-1, Ami]}') == "ami-us"
    assert ev("v: !FindInMap [RegionMap, eu-west-1, Zones]") == ["x", "y"]
    fails("v: !FindInMap [Nope, a, b]", "no mapping 'Nope'")
    fails("v: !FindInMap [RegionMap, ap-south-1, Ami]", "no key in mapping RegionMap 'ap-south-1'")
    fails("v: !FindInMap [RegionMap, us-east-1, Zones]", "no key in RegionMap.us-east-1 'Zones'")


def test_base64_and_get_azs() -> None:
    assert ev('v: !Base64 "hello ${Env}"') == base64.b64encode(b"hello ${Env}").decode()
    assert ev('v: {"Fn::Base64": !Sub "hello ${Env}"}') == base64.b64encode(b"hello prod").decode()
    assert ev("v: !GetAZs ''") == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    assert ev("v: !GetAZs us-east-2") == ["us-east-2a", "us-east-2b", "us-east-2c"]
    assert ev('v: {"Fn::GetAZs": !Ref AWS::Region}') == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]


def test_import_value_and_other_functions_are_refused() -> None:
    fails("v: !ImportValue shared-vpc", "Fn::ImportValue is not supported")
    fails('v: {"Fn::ImportValue": x}', "Fn::ImportValue is not supported")
    fails("v: !Transform {Name: AWS::Include}", "Fn::Transform is not supported")
    fails('v: {"Fn::Nope": x}', "Fn::Nope is not supported")
    fails("v: !Equals [a, a]", "only be used in the Conditions section")


def test_null_values_are_refused() -> None:
    fails("v: {a: }", "'null' values are not allowed")


def test_a_fault_carries_the_line_of_the_innermost_function() -> None:
    err = fails("v:\n  a: 1\n  b:\n    - !Join\n      - ','\n      - !Ref Nope\n", "no Nope.Ref")
    assert err.line == 6


def test_plain_maps_keep_lines_after_resolving() -> None:
    out = ev("v:\n  a: !Ref Env\n  b: 2\n")
    assert isinstance(out, Node) and out.line_of("b") == 3


# --- conditions ---------------------------------------------------------------------------

def conditions(text: str, params: dict[str, Any] | None = None) -> dict[str, bool]:
    return evaluate_conditions(parse(text), Scope({**PARAMS, **(params or {})}, MAPPINGS))


def test_conditions_evaluate_with_references_between_them() -> None:
    result = conditions("""
IsProd: !Equals [!Ref Env, prod]
IsEu: !Equals [!Select [0, !Split ["-", !Ref AWS::Region]], eu]
Both: !And [!Condition IsProd, !Condition IsEu]
NotProd: !Not [!Condition IsProd]
Either: {"Fn::Or": [{Condition: NotProd}, !Equals [!FindInMap [RegionMap, eu-west-1, Ami], ami-eu]]}
Numbers: !Equals [256, !Ref Size]
""")
    assert result == {"IsProd": True, "IsEu": True, "Both": True, "NotProd": False, "Either": True,
                      "Numbers": True}


def test_condition_faults_name_the_condition_and_line() -> None:
    with pytest.raises(ConditionError) as info:
        conditions("A: !Equals [a, a]\nB: !Not [!Condition C]\nC: !Equals [!Ref Nope, x]\n")
    assert (info.value.condition, info.value.line) == ("C", 3)
    with pytest.raises(ConditionError, match="depends on itself: A -> B -> A"):
        conditions("A: !Condition B\nB: !Not [!Condition A]\n")
    with pytest.raises(ConditionError, match="unknown condition 'Z'") as info:
        conditions("A: !And [!Condition Z, !Equals [a, a]]\n")
    assert info.value.condition == "A"
    with pytest.raises(ConditionError, match="2 to 10 conditions"):
        conditions("A: !Or [!Equals [a, a]]\n")
    with pytest.raises(ConditionError, match="must be one of"):
        conditions("A: prod\n")
    with pytest.raises(ConditionError, match="Fn::Join is not a condition function"):
        conditions("A: !Join [a, [b]]\n")


# --- Fn::Cidr, Fn::ToJsonString, Fn::Length, FindInMap's DefaultValue ---------------------------------

def test_cidr_carves_subnets_as_cloudformation_does() -> None:
    # AWS's example: !Cidr [192.168.0.0/24, 6, 5] gives six /27 blocks.
    assert ev("v: !Cidr [192.168.0.0/24, 6, 5]") == [f"192.168.0.{i * 32}/27" for i in range(6)]
    assert ev("v: !Select [1, !Cidr [10.0.0.0/16, 2, 8]]") == "10.0.1.0/24"
    assert ev('v: !Cidr ["2001:db8::/56", 2, 64]') == ["2001:db8::/64", "2001:db8:0:1::/64"]
    fails("v: !Cidr [10.0.0.0/24, 300, 2]", "count must be 1 to 256")
    fails("v: !Cidr [10.0.0.0/24, 2, 9]", "cidrBits 9 does not fit in 10.0.0.0/24")
    fails("v: !Cidr [10.0.0.0/30, 4, 1]", "holds 2 blocks of /31, not 4")
    fails("v: !Cidr [nonsense, 1, 1]", "ipBlock 'nonsense' is not a CIDR block")


def test_to_json_string_and_length() -> None:
    assert ev('v: {"Fn::ToJsonString": {a: !Ref Env, b: [1, !Ref Size]}}') == '{"a":"prod","b":[1,"256"]}'
    assert ev('v: {"Fn::Length": !Ref Subnets}') == 3
    assert ev('v: !Length [a, !Ref "AWS::NoValue", b]') == 2
    fails('v: {"Fn::ToJsonString": x}', "Fn::ToJsonString takes a map or a list, got str")
    fails('v: {"Fn::Length": x}', "Fn::Length's argument must be a list")


def test_find_in_map_default_value() -> None:
    assert ev("v: !FindInMap [RegionMap, ap-south-1, Ami, {DefaultValue: ami-any}]") == "ami-any"
    assert ev("v: !FindInMap [RegionMap, us-east-1, Ami, {DefaultValue: ami-any}]") == "ami-us"
    fails("v: !FindInMap [RegionMap, us-east-1, Ami, {Default: x}]", "must be {DefaultValue: value}")


# --- properties (hypothesis) ---------------------------------------------------------------------------

from hypothesis import given, strategies as st  # noqa: E402
import ipaddress  # noqa: E402
import json  # noqa: E402

_PLAIN = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="${}"), max_size=20)


@given(st.integers(0, 32), st.integers(0, 2 ** 32 - 1), st.integers(1, 256), st.integers(1, 32))
def test_cidr_blocks_are_disjoint_in_order_inside_the_block(prefix: int, address: int, count: int, bits: int) -> None:
    network = ipaddress.ip_network(f"{ipaddress.IPv4Address(address)}/{prefix}", strict=False)
    scope = Scope(PARAMS)
    try:
        blocks = resolve(Node({"Fn::Cidr": [str(network), count, bits]}), scope)
    except IntrinsicError:
        assert bits > 32 - prefix or count > 2 ** (32 - bits - prefix)
        return
    subnets = [ipaddress.ip_network(b) for b in blocks]
    assert len(subnets) == count
    assert all(s.prefixlen == 32 - bits and s.subnet_of(network) for s in subnets)   # type: ignore[arg-type]
    assert all(a.broadcast_address < b.network_address for a, b in zip(subnets, subnets[1:]))
    assert subnets[0].network_address == network.network_address


@given(st.lists(_PLAIN.filter(lambda s: "," not in s), min_size=1, max_size=8))
def test_split_undoes_join_and_select_picks_each(items: list[str]) -> None:
    scope = Scope({**PARAMS, "Items": items})
    joined = resolve(Node({"Fn::Join": [",", Node({"Ref": "Items"})]}), scope)
    assert resolve(Node({"Fn::Split": [",", joined]}), scope) == items
    for index, item in enumerate(items):
        assert resolve(Node({"Fn::Select": [str(index), Node({"Ref": "Items"})]}), scope) == item
    assert resolve(Node({"Fn::Length": Node({"Ref": "Items"})}), scope) == len(items)
    out_of_range = Node({"Fn::Select": [len(items), Node({"Ref": "Items"})]})
    with pytest.raises(IntrinsicError, match="out of range"):
        resolve(out_of_range, scope)


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | _PLAIN,
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_PLAIN, inner, max_size=4),
                     max_leaves=12)


@given(st.dictionaries(_PLAIN, _JSON.filter(lambda v: v is not None), max_size=5))
def test_to_json_string_is_the_value_as_json(value: dict[str, Any]) -> None:
    def nulls(v: Any) -> bool:
        return v is None or (isinstance(v, list) and any(map(nulls, v))) or (
            isinstance(v, dict) and any(map(nulls, v.values())))
    try:
        text = resolve(Node({"Fn::ToJsonString": value}), Scope(PARAMS))
    except IntrinsicError as exc:
        assert nulls(value) and "'null' values" in exc.message
        return
    assert json.loads(text) == value
    assert text == json.dumps(value, separators=(",", ":"), ensure_ascii=False)    # compact, as AWS writes it


@given(_PLAIN)
def test_base64_decodes_to_its_input_and_sub_leaves_plain_text(text: str) -> None:
    assert base64.b64decode(resolve(Node({"Fn::Base64": text}), Scope(PARAMS))).decode() == text
    assert resolve(Node({"Fn::Sub": text}), Scope(PARAMS)) == text
