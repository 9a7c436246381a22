"""The librdkafka suite runner's pure parts: which cluster each test runs on, and one
state per entry from the runs of a test limited to some of its sub-tests."""

from __future__ import annotations

from bench_scripts import load

suites = load("client_suites")


def entry(name: str, scenarios=("default",), flags: str = "0"):
    return suites.Entry(name, name.split("_")[0], flags, list(scenarios))


def test_sasl_tests_run_on_the_secured_clusters():
    entries = [entry("0001_multiobj"), entry("0111_delay_create_topics", ["noautocreate"]),
               entry("0135_sasl_credentials"), entry("0142_reauthentication"), entry("0126_oauthbearer_oidc"),
               entry("0097_ssl_verify")]
    plan, excluded = suites.select(entries, None, suites.load_exclusions("librdkafka"), "3.9.0")
    assert {scenario: sorted(numbers) for scenario, numbers in plan.items()} == {
        "default": ["0001"], "noautocreate": ["0111"], "sasl": ["0135", "0142"], "oauthbearer": ["0142"],
        "oidc": ["0126"], "ssl": ["0097"]}
    assert excluded == []


def test_the_sub_test_limits_name_their_patterns():
    limits = suites.load_exclusions("librdkafka-subtests")
    assert limits["0135_sasl_credentials"]["subtests"] == ["do_test:"]
    assert "do_test_reauth_failure:" in limits["0142_reauthentication"]["subtests"]
    assert "do_test_produce_consumer_with_OIDC:" in limits["0126_oauthbearer_oidc"]["subtests"]
    assert not any("share" in p for limit in limits.values() for p in limit["subtests"])


def run(state: str, duration: float = 1.0):
    return [suites.Result("0142_reauthentication", "0142", "sasl", state, f"{state} here", duration)]


LIMIT = {"subtests": ["a:", "b:"], "category": "kafka-version", "reason": "share groups"}


def test_a_failed_run_fails_the_entry_and_a_pass_says_what_was_left_out():
    failed = suites.merged_runs([run("PASSED"), run("FAILED", 2.0)], LIMIT)
    assert [(r.state, r.reason, r.duration_s) for r in failed] == [("FAILED", "FAILED here", 3.0)]
    passed = suites.merged_runs([run("PASSED"), run("SKIPPED")], LIMIT)
    assert passed[0].state == "PASSED"
    assert passed[0].reason == "only the sub-tests matching 'a:' or 'b:': [kafka-version] share groups"
    assert suites.merged_runs([run("SKIPPED"), run("SKIPPED")], LIMIT)[0].state == "SKIPPED"
