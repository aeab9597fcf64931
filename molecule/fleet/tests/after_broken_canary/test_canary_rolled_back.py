"""fleet, after the first run: the canary failed validation and was rolled back."""

from conftest_common import report_records, state_file

CANARY = "mol-fleet-1"
testinfra_hosts = [CANARY]  # testinfra runs this module on the canary only


def test_the_canary_failed_validation_and_was_rolled_back(host, hostvars):
    phases = state_file(host, hostvars)["databases"]["app"]
    assert phases["swap"]["to_version"] == "0.2.0"
    assert phases["validate"]["status"] == "fail"
    failed = [c["name"] for c in phases["validate"]["checks"] if c["status"] == "fail"]
    assert "write_path" in failed, failed
    assert phases["rollback"]["from_version"] == "0.2.0"
    assert phases["rollback"]["to_version"] == "0.1.0"
    record = report_records()[CANARY]
    assert record["status"] == "failed"
    assert record["rolled_back"] is True
