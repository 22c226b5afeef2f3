"""Whatever bytes arrive as a record, import refuses them cleanly or imports them: never raises."""

import secrets

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import do_import, incoming, make_submission


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    kind=st.sampled_from(["submission", "followup", "reply"]),
    position=st.integers(min_value=0, max_value=10_000),
    flip=st.integers(min_value=1, max_value=255),
    cut=st.booleans(),
)
def test_mutated_envelopes_are_refused_cleanly(office, kind, position, flip, cut) -> None:
    source, envelope = make_submission(office, case_id=secrets.token_hex(16))
    data = bytearray(envelope)
    if cut:
        del data[position % len(data) :]
    else:
        data[position % len(data)] ^= flip
    report = do_import(office, [incoming(kind, source.case_id, bytes(data))])
    assert len(report.refused) == 1
    assert not report.imported


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=4096))
def test_random_bytes_are_refused(office, data) -> None:
    report = do_import(office, [incoming("submission", secrets.token_hex(16), data)])
    assert len(report.refused) == 1
