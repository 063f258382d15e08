"""Template outputs that are execute-api URLs, given as the local gateway serves them."""

from __future__ import annotations

from cumulo.deploy.engine import local_api_urls

GATEWAY = "http://127.0.0.1:8080"


def test_execute_api_urls_of_the_deployed_apis_become_gateway_urls() -> None:
    outputs = {
        "Rest": "https://b2ytdv4het.execute-api.us-east-1.amazonaws.com/Prod/hello/",
        "Http": "https://abc123.execute-api.eu-west-1.amazonaws.com",                      # $default stage
        "Text": "GET https://abc123.execute-api.eu-west-1.amazonaws.com/items?x=1.",
        "Arn": "arn:aws:lambda:us-east-1:000000000000:function:f",
        "Number": 3,
    }
    assert local_api_urls(outputs, {"b2ytdv4het", "abc123"}, GATEWAY) == {
        "Rest": f"{GATEWAY}/b2ytdv4het/Prod/hello/",
        "Http": f"{GATEWAY}/abc123",
        "Text": f"GET {GATEWAY}/abc123/items?x=1.",
        "Arn": "arn:aws:lambda:us-east-1:000000000000:function:f",
        "Number": 3,
    }


def test_other_apis_and_look_alike_hosts_are_left_alone() -> None:
    outputs = {"Theirs": "https://zzz9.execute-api.us-east-1.amazonaws.com/Prod/",
               "Spoof": "https://abc123.execute-api.us-east-1.amazonaws.com.example.org/x"}
    assert local_api_urls(outputs, {"abc123"}, GATEWAY) == outputs
