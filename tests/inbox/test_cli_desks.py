"""``whistle inbox desks …``: membership, stepping aside and moving a case at the command line,
each refusal a clear line that changes nothing."""

from .conftest import do_import, incoming, make_submission
from .test_cli_officers import files, obj, run  # noqa: F401 - fixtures
from .test_desks import _add, _listed


def test_membership_step_aside_and_reassign(office, obj, files) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    _add(office, "ana", ["antifraud"])
    source, envelope = make_submission(office, description="roadworks")
    do_import(office, [incoming("submission", source.case_id, envelope)])
    directory = str(office.config.data_dir)
    me = ["--officer", "admin", "--password-file", files["admin"]]

    listed = run(obj, "desks", "list", directory)
    assert listed.exit_code == 0, listed.output
    assert "antifraud: admin, ana" in listed.output

    added = run(obj, "desks", "add-member", directory, "ethics", "ana", *me)
    assert added.exit_code == 0, added.output
    assert "ana is a member of ethics." in added.output
    again = run(obj, "desks", "add-member", directory, "ethics", "ana", *me)
    assert again.exit_code != 0
    assert "already" in again.output

    left = run(obj, "desks", "remove-member", directory, "ethics", "ana", *me)
    assert left.exit_code == 0, left.output
    assert "compartment key 2" in left.output
    last = run(obj, "desks", "remove-member", directory, "ethics", "admin", *me)
    assert last.exit_code != 0
    assert "last member" in last.output

    aside = run(obj, "desks", "step-aside", directory, source.case_id, "--reason", "short", *me)
    assert aside.exit_code != 0  # too short a reason: nothing recorded
    assert source.case_id in _listed(office, office.sign_in())
    aside = run(
        obj,
        "desks",
        "step-aside",
        directory,
        source.case_id,
        "--reason",
        "The contractor is my cousin.",
        *me,
    )
    assert aside.exit_code == 0, aside.output
    assert source.case_id not in _listed(office, office.sign_in())
    assert source.case_id in _listed(office, office.sign_in("ana"))

    moved = run(obj, "desks", "reassign", directory, source.case_id, "ethics", *me)
    assert moved.exit_code != 0  # admin stepped aside: their keys no longer open the case
