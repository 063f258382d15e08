"""The secrets extension's queries (api/secrets_extension.request_document), the token's key id read
without a key (iam/tokens.key_id_of) and which layer ARNs Cumulo provides itself (model/layer)."""

from __future__ import annotations

from hypothesis import given, strategies as st

from cumulo.api.secrets_extension import request_document
from cumulo.iam.tokens import issue, key_id_of, read
from cumulo.model.layer import provided_layer

queries = st.dictionaries(st.sampled_from(["secretId", "versionId", "versionStage", "name", "version", "label",
                                           "withDecryption", "other"]),
                          st.lists(st.text(max_size=20), max_size=3), max_size=6)


@given(st.sampled_from(["secretsmanager", "ssm"]), queries)
def test_a_query_is_a_request_or_a_reason(service: str, query: dict[str, list[str]]) -> None:
    doc = request_document(service, query)
    first = {k: v[0] for k, v in query.items() if v}
    if isinstance(doc, str):
        assert doc
        return
    if service == "secretsmanager":
        assert doc["SecretId"] == first["secretId"] != ""
        assert set(doc) <= {"SecretId", "VersionId", "VersionStage"}
    else:
        assert doc["Name"].startswith(first["name"]) and first["name"]
        assert doc["WithDecryption"] == (first.get("withDecryption", "").lower() == "true")
        assert not ("version" in first and "label" in first)


def test_the_documented_queries() -> None:
    assert request_document("secretsmanager", {"secretId": ["db"], "versionStage": ["AWSPREVIOUS"]}) == {
        "SecretId": "db", "VersionStage": "AWSPREVIOUS"}
    assert request_document("ssm", {"name": ["/a/b"], "version": ["3"], "withDecryption": ["true"]}) == {
        "Name": "/a/b:3", "WithDecryption": True}
    assert request_document("ssm", {"name": ["/a/b"], "label": ["prod"]}) == {"Name": "/a/b:prod",
                                                                             "WithDecryption": False}
    assert request_document("ssm", {"name": ["/a"], "label": ["x"], "version": ["1"]}) == \
        "version and label cannot both be given"
    assert request_document("secretsmanager", {}) == "secretId is required"


@given(st.text(max_size=300))
def test_any_text_gives_a_key_id_or_nothing(text: str) -> None:
    assert isinstance(key_id_of(text), str)


def test_a_tokens_key_id_is_read_then_checked() -> None:
    key = b"k" * 32
    session = issue(key, account="000000000000", role_arn="arn:aws:iam::000000000000:role/r", role_id="AROA1",
                    session_name="fn", issued=0, expires=100, owner_key="")
    assert key_id_of(session.token) == session.key_id
    assert read(key, key_id_of(session.token), session.token).session_name == "fn"


def test_the_layers_cumulo_provides() -> None:
    for arn in ("arn:aws:lambda:us-east-1:177933569100:layer:AWS-Parameters-and-Secrets-Lambda-Extension:11",
                "arn:aws:lambda:eu-west-1:133256977650:layer:AWS-Parameters-and-Secrets-Lambda-Extension-Arm64:4"):
        assert provided_layer(arn) == "parameters-secrets"
    for arn in ("arn:aws:lambda:us-east-1:177933569100:layer:AWS-Parameters-and-Secrets-Lambda-Extension2:1",
                "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python311-x86_64:7",
                "AWS-Parameters-and-Secrets-Lambda-Extension", ""):
        assert provided_layer(arn) is None
