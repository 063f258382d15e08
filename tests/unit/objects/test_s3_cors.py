"""S3's CORS rules, pure: the XML parser (garbage only ever answers S3's errors; a valid
configuration renders and parses back to itself), the checks, and matching against an oracle
(a rule's ``*`` as a regular expression's ``.*``)."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from cumulo.api import s3 as wire
from cumulo.model import s3cors
from cumulo.model.objects import S3Error

words = st.text(st.sampled_from("abcxyz.-:/"), min_size=1, max_size=8)
patterns = st.builds(lambda a, star, b: a + ("*" if star else "") + b, words | st.just(""), st.booleans(),
                     words | st.just("")).filter(bool)
rules = st.lists(st.fixed_dictionaries(
    {"AllowedMethods": st.lists(st.sampled_from(s3cors.METHODS), min_size=1, max_size=3, unique=True),
     "AllowedOrigins": st.lists(patterns, min_size=1, max_size=3)},
    optional={"ID": words, "AllowedHeaders": st.lists(patterns, min_size=1, max_size=3),
              "ExposeHeaders": st.lists(st.sampled_from(["ETag", "x-amz-request-id", "Content-Length"]),
                                        min_size=1, max_size=2),
              "MaxAgeSeconds": st.integers(0, 10**6)}), min_size=1, max_size=4)


@given(rules)
def test_a_configuration_renders_and_parses_back_to_itself(config: list[dict[str, Any]]) -> None:
    checked = s3cors.check_rules(config)
    assert wire.parse_cors(wire.render_cors(checked)) == checked


@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode)
       | st.builds(lambda inner: f"<CORSConfiguration><CORSRule>{inner}</CORSRule></CORSConfiguration>".encode(),
                   st.text(max_size=80)))
def test_garbage_is_refused_with_s3_errors(body: bytes) -> None:
    try:
        s3cors.check_rules(wire.parse_cors(body))
    except S3Error as err:
        assert err.status == 400 and err.code in ("MalformedXML", "InvalidRequest")


def oracle(pattern: str, value: str, fold: bool) -> bool:
    return re.fullmatch(".*".join(re.escape(p) for p in pattern.split("*")), value,
                        re.IGNORECASE | re.DOTALL if fold else re.DOTALL) is not None


@given(rules, words, st.sampled_from(s3cors.METHODS), st.lists(words, max_size=2))
def test_the_first_rule_that_allows_the_request_answers(config: list[dict[str, Any]], origin: str, method: str,
                                                         headers: list[str]) -> None:
    checked = s3cors.check_rules(config)
    expected = next((r for r in checked if method in r["AllowedMethods"]
                     and any(oracle(o, origin, False) for o in r["AllowedOrigins"])
                     and all(any(oracle(a, h, True) for a in r.get("AllowedHeaders", [])) for h in headers)), None)
    assert s3cors.match(checked, origin, method, headers) == expected


def test_s3s_refusals() -> None:
    for bad, code in (([{"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}], "InvalidRequest"),
                      ([{"AllowedOrigins": ["*.*"], "AllowedMethods": ["GET"]}], "InvalidRequest"),
                      ([{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"], "ExposeHeaders": ["*"]}], "InvalidRequest"),
                      ([{"AllowedMethods": ["GET"]}], "MalformedXML"),
                      ([{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}] * 101, "InvalidRequest")):
        try:
            s3cors.check_rules(bad)
        except S3Error as err:
            assert err.code == code
        else:
            raise AssertionError(bad)
