"""Dynamic references (``deploy/references.py``): CloudFormation's three forms, read from a lookup."""

from __future__ import annotations

import json
import string
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cumulo.deploy.references import ReferenceError_, resolve_references

ARN = "arn:aws:secretsmanager:us-east-1:000000000000:secret:db-AbC123"


class Lookup:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def parameter(self, name: str, secure: bool) -> str:
        self.calls.append(("parameter", name, secure))
        return f"<{name}>"

    def secret(self, secret_id: str, stage: str | None, version_id: str | None) -> str:
        self.calls.append(("secret", secret_id, stage, version_id))
        return json.dumps({"user": "admin", "password": "pw", "port": 5432})


@pytest.mark.parametrize("text, expected, call", [
    ("{{resolve:ssm:/app/flag}}", "</app/flag>", ("parameter", "/app/flag", False)),
    ("{{resolve:ssm:/app/flag:3}}", "</app/flag:3>", ("parameter", "/app/flag:3", False)),
    ("{{resolve:ssm-secure:key}}", "<key>", ("parameter", "key", True)),
    ("pw={{resolve:secretsmanager:db:SecretString:password}};", "pw=pw;", ("secret", "db", None, None)),
    ("{{resolve:secretsmanager:db:SecretString:port}}", "5432", ("secret", "db", None, None)),
    ("{{resolve:secretsmanager:db::password:AWSPREVIOUS}}", "pw", ("secret", "db", "AWSPREVIOUS", None)),
    ("{{resolve:secretsmanager:db:SecretString:::v-1}}", json.dumps({"user": "admin", "password": "pw", "port": 5432}),
     ("secret", "db", None, "v-1")),
    (f"{{{{resolve:secretsmanager:{ARN}:SecretString:user}}}}", "admin", ("secret", ARN, None, None)),
    (f"{{{{resolve:secretsmanager:{ARN}}}}}", json.dumps({"user": "admin", "password": "pw", "port": 5432}),
     ("secret", ARN, None, None)),
])
def test_each_form_reads_what_it_names(text: str, expected: str, call: tuple[Any, ...]) -> None:
    lookup = Lookup()
    assert resolve_references(text, lookup) == expected
    assert lookup.calls == [call]


@pytest.mark.parametrize("text", [
    "{{resolve:secretsmanager:db:SecretString:missing}}",
    "{{resolve:secretsmanager:db:SecretBinary:x}}",
    "{{resolve:secretsmanager:db:SecretString:k:AWSCURRENT:v1}}",
    "{{resolve:ssm:/a:latest}}",
    "{{resolve:secretsmanager:}}",
])
def test_references_that_cannot_resolve_say_why(text: str) -> None:
    with pytest.raises(ReferenceError_):
        resolve_references(text, Lookup())


def test_templates_are_resolved_in_place_in_every_string() -> None:
    doc = {"A": {"Env": ["x", "{{resolve:ssm:/p}}", {"Fn::Sub": "${X}-{{resolve:ssm:/q}}"}], "N": 3}}
    assert resolve_references(doc, Lookup()) == {"A": {"Env": ["x", "</p>", {"Fn::Sub": "${X}-</q>"}], "N": 3}}
    with pytest.raises(ReferenceError_):
        resolve_references({"x": "{{resolve:ssm:/p}}"}, None)


@given(st.text(string.printable.replace("{", "").replace("}", ""), max_size=40))
def test_strings_without_references_are_untouched(text: str) -> None:
    lookup = Lookup()
    assert resolve_references(text, lookup) == text and lookup.calls == []
