"""``whistle inbox desks …``: membership, stepping aside and moving a case at the command line,
each refusal a clear line that changes nothing."""

from .conftest import add_officer_in, do_import, incoming, listed_cases, make_submission
from .test_cli_officers import files, obj, run  # noqa: F401 - fixtures


def test_membership_step_aside_and_reassign(office, obj, files) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    add_officer_in(office, "ana", ["antifraud"])
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
    assert source.case_id in listed_cases(office, office.sign_in())
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
    assert source.case_id not in listed_cases(office, office.sign_in())
    assert source.case_id in listed_cases(office, office.sign_in("ana"))

    moved = run(obj, "desks", "reassign", directory, source.case_id, "ethics", *me)
    assert moved.exit_code != 0  # admin stepped aside: their keys no longer open the case


def test_removing_a_desk(office, obj, files) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """Refused while the desk holds a case (nothing changed); with --move-cases the case moves
    with its keys and the desk's keys go; a manager whose keys do not open its cases can
    use the recovery key."""
    add_officer_in(office, "mar", ["antifraud"], roles=("officer", "manager"))
    source, envelope = make_submission(office, desk="ethics", description="canteen tender")
    do_import(office, [incoming("submission", source.case_id, envelope)])
    directory = str(office.config.data_dir)
    me = ["--officer", "admin", "--password-file", files["admin"], "--yes"]
    remove = ["desks", "remove", directory, "ethics", "--to", "antifraud"]

    refused = run(obj, *remove, *me)
    assert refused.exit_code != 0
    assert "holds 1 case(s), 1 of them open" in refused.output
    assert "--move-cases" in refused.output
    assert "ethics: admin" in run(obj, "desks", "list", directory).output

    as_mar = ["--officer", "mar", "--password-file", files["admin"], "--yes", "--move-cases"]
    locked = run(obj, *remove, *as_mar)
    assert locked.exit_code != 0
    assert "do not open 1 of the 1 case(s)" in locked.output
    done = run(obj, *remove, *as_mar, "--recovery-key-file", files["recovery"])
    assert done.exit_code == 0, done.output
    assert "1 case(s) moved to antifraud" in done.output
    assert "key epoch 2 without it" in done.output
    listed = run(obj, "desks", "list", directory).output
    assert "ethics:" not in listed
    assert "ethics (reports still sent to it go to antifraud)" in listed
    assert source.case_id in listed_cases(office, office.sign_in("mar"))
