"""Start-up problems in one line naming their cause; what `ivr serve` prints, and when."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.cli_run import free_port, ivr, problem_lines, user_env

DEAD_DATABASE = "postgresql://ivr:secret@127.0.0.1:{port}/ivr"


async def test_unreachable_database_url_is_one_line_naming_it(tmp_path: Path) -> None:
    """`ivr serve` on a DATABASE_URL nobody answers: one line naming DATABASE_URL, no password."""
    url = DEAD_DATABASE.format(port=free_port())
    env = user_env(tmp_path / "var", DATABASE_URL=url, IVR_DATABASE_WAIT="0")
    done = await ivr("serve", "--dev", env=env, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"ivr: cannot use the database at DATABASE_URL={url.replace('secret', '***')}: "
        "connection refused (is the server running, on that host and port?)"]
    assert "serving" not in done.stdout


async def test_the_database_is_waited_for_a_bounded_time(tmp_path: Path) -> None:
    """With IVR_DATABASE_WAIT, start-up retries, says so in log lines, then ends in one line."""
    url = DEAD_DATABASE.format(port=free_port())
    env = user_env(tmp_path / "var", DATABASE_URL=url, IVR_DATABASE_WAIT="2")
    done = await ivr("serve", "--dev", env=env, cwd=tmp_path)
    assert done.returncode == 1
    assert "not reachable yet" in done.stderr
    assert "Traceback" not in done.stderr
    assert problem_lines(done.stderr) == [
        f"ivr: cannot use the database at DATABASE_URL={url.replace('secret', '***')}: "
        "connection refused (is the server running, on that host and port?)"]


async def test_other_commands_name_an_unreachable_database(tmp_path: Path) -> None:
    """`ivr agents list` on a dead DATABASE_URL: one line, exit 1."""
    url = DEAD_DATABASE.format(port=free_port())
    done = await ivr("agents", "list", env=user_env(tmp_path / "var", DATABASE_URL=url),
                     cwd=tmp_path)
    assert done.returncode == 1
    assert problem_lines(done.stderr) == [
        f"ivr: cannot use the database at DATABASE_URL={url.replace('secret', '***')}: "
        "connection refused (is the server running, on that host and port?)"]


async def test_busy_port_is_one_line_and_secrets_print_once(db_url: str, tmp_path: Path) -> None:
    """A taken port stops `ivr serve` in one line, before "serving"; secrets print on creation."""
    env = user_env(tmp_path / "var", DATABASE_URL=db_url)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env["IVR_PORT"] = str(port)
        first = await ivr("serve", "--dev", env=env, cwd=tmp_path)
        second = await ivr("serve", "--dev", env=env, cwd=tmp_path)
    for done in (first, second):
        assert done.returncode == 1
        assert problem_lines(done.stderr) == [
            f"ivr: cannot listen on 127.0.0.1:{port} (IVR_HOST / IVR_PORT): address already "
            "in use"]
        assert "serving" not in done.stdout
    assert "TWILIO_AUTH_TOKEN=" in first.stdout
    assert "TWILIO_AUTH_TOKEN=" not in second.stdout
    assert f"local secrets in {tmp_path / 'var' / 'dev-secrets.json'}" in second.stdout


async def test_open_needs_dev(tmp_path: Path) -> None:
    """`ivr serve --open` without --dev is refused: real switchboards keep their hours."""
    done = await ivr("serve", "--open", env=user_env(tmp_path / "var"), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "ivr: --open applies only with --dev (a real switchboard keeps the flow's opening hours)"]
