"""lc_callbacks_nb.testing.nbval: nbval compares a display's final state, as saved.

The subprocess tests run real nbval (one kernel each) on a notebook executed and saved by
nbclient; the unit tests drive the bookkeeping with hand-made iopub messages.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from lc_callbacks_nb.testing import nbval as plugin

CELLS = [
    # a display updated in place: the saved notebook holds only "final"
    'h = display("first", display_id=True)\nh.update("final")',
    # clear_output(wait=True): the saved notebook holds only what came after
    'from IPython.display import clear_output\nprint("gone")\nclear_output(wait=True)\n'
    'print("kept")',
    # the same display id shown twice: both outputs show the last one (nbclient's rule)
    # (not ";": nbval runs cells with store_history=False, which ignores it)
    'display("a", display_id="twice")\n_ = display("b", display_id="twice")',
]


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The notebook executed by nbclient and saved, as `jupyter nbconvert --execute` would."""
    path = tmp_path_factory.mktemp("nbval_plugin") / "updates.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    outs = [cell.outputs for cell in nb.cells]
    assert [o.data["text/plain"] for o in outs[0]] == ["'final'"]
    assert [(o.output_type, o.text) for o in outs[1]] == [("stream", "kept\n")]
    assert [o.data["text/plain"] for o in outs[2]] == ["'b'", "'b'"]
    nbformat.write(nb, path)
    return path



@pytest.fixture(autouse=True)
def _session_plugin_kept():
    """These tests install and uninstall the patch in-process; when the session itself runs with
    ``-p lc_callbacks_nb.testing.nbval`` (make test), the notebooks collected after them must
    still be compared with it: start from a clean nbval and put the session's patch back."""
    was_installed = bool(plugin._originals)
    plugin.uninstall()
    yield
    plugin.uninstall()
    if was_installed:
        plugin.install()


def run_nbval(notebook: Path, *, with_plugin: bool) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env", str(notebook)]
    args += ["-p", "no:cacheprovider", "-q", "-rA"]
    if with_plugin:
        args += ["-p", "lc_callbacks_nb.testing.nbval"]
    return subprocess.run(
        args, cwd=notebook.parent, capture_output=True, text=True, timeout=300, check=False
    )


def test_with_plugin_saved_final_states_pass(saved: Path) -> None:
    result = run_nbval(saved, with_plugin=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout
    assert "unhandled iopub msg" not in result.stdout


def test_without_plugin_nbval_compares_first_states_and_fails(saved: Path) -> None:
    """The bug the plugin fixes: plain nbval 0.11 fails a notebook nbclient saved."""
    result = run_nbval(saved, with_plugin=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "unhandled iopub msg: update_display_data" in result.stdout
    assert "3 failed" in result.stdout


def test_with_plugin_a_changed_final_text_fails(saved: Path, tmp_path: Path) -> None:
    nb = nbformat.read(saved, as_version=4)
    nb.cells[0].outputs[0].data["text/plain"] = "'not what the cell ends with'"
    changed = tmp_path / "changed.ipynb"
    nbformat.write(nb, changed)
    result = run_nbval(changed, with_plugin=True)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 failed, 2 passed" in result.stdout
    assert "FAILED changed.ipynb::Cell 0" in result.stdout
    assert "'not what the cell ends with'" in result.stdout


# -- the bookkeeping, without a kernel ---------------------------------------------------
def _msg(msg_type: str, parent: str = "exec-1", **content: Any) -> dict[str, Any]:
    return {
        "msg_type": msg_type,
        "header": {"msg_type": msg_type},
        "parent_header": {"msg_id": parent},
        "content": content,
    }


def _out(msg: dict[str, Any]) -> dict[str, Any]:
    """What nbval appends for a display_data message."""
    return {"output_type": msg["msg_type"], "data": msg["content"]["data"], "metadata": {}}


def _cell() -> tuple[plugin._CellDisplays, list[dict[str, Any]]]:
    item = SimpleNamespace(parent=SimpleNamespace(kernel=None), test_outputs=[])
    cell = plugin._CellDisplays(item)
    cell.msg_id = "exec-1"
    return cell, item.test_outputs


def test_update_replaces_the_output_with_that_display_id() -> None:
    cell, outs = _cell()
    for did, text in (("d1", "one"), ("d2", "two")):
        msg = _msg(
            "display_data", data={"text/plain": text}, metadata={}, transient={"display_id": did}
        )
        assert not cell.consume(msg)  # nbval appends it
        outs.append(_out(msg))
    update = _msg(
        "update_display_data",
        data={"text/plain": "ONE"},
        metadata={"m": 1},
        transient={"display_id": "d1"},
    )
    assert cell.consume(update)  # handled: nbval never sees it
    assert [o["data"]["text/plain"] for o in outs] == ["ONE", "two"]
    assert outs[0]["metadata"] == {"m": 1}
    # an update for an unknown id, or from another request, changes nothing
    assert cell.consume(
        _msg(
            "update_display_data",
            data={"text/plain": "x"},
            metadata={},
            transient={"display_id": "nope"},
        )
    )
    other = _msg(
        "update_display_data",
        parent="exec-0",
        data={"text/plain": "x"},
        metadata={},
        transient={"display_id": "d2"},
    )
    assert not cell.consume(other)
    assert [o["data"]["text/plain"] for o in outs] == ["ONE", "two"]


def test_clear_output_now_and_with_wait() -> None:
    cell, outs = _cell()
    outs.append({"output_type": "stream", "name": "stdout", "text": "a"})
    assert cell.consume(_msg("clear_output", wait=False))
    assert outs == []
    outs.append({"output_type": "stream", "name": "stdout", "text": "b"})
    assert cell.consume(_msg("clear_output", wait=True))
    assert len(outs) == 1  # kept until the next output arrives
    assert not cell.consume(_msg("stream", name="stdout", text="c"))
    assert outs == []  # cleared just before nbval appends "c"


def test_nbval_internals_changing_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    cell, outs = _cell()
    msg = _msg("display_data", data={"text/plain": "x"}, metadata={}, transient={"display_id": "d"})
    cell.consume(msg)
    outs.append({"output_type": "stream", "name": "stdout", "text": "not a display"})
    with pytest.raises(plugin.NbvalPatchError, match="internals changed"):
        cell.consume(
            _msg("update_display_data", data={}, metadata={}, transient={"display_id": "d"})
        )
    cell.item.test_outputs = None
    with pytest.raises(plugin.NbvalPatchError, match="test_outputs"):
        cell.consume(_msg("clear_output", wait=False))

    from nbval.plugin import IPyNbCell

    def runtest(self: Any) -> None:  # an nbval whose loop looks different
        pass

    plugin.uninstall()
    monkeypatch.setattr(IPyNbCell, "runtest", runtest)
    with pytest.raises(plugin.NbvalPatchError, match="no longer contains"):
        plugin.install()
    plugin.uninstall()


def test_install_is_idempotent_and_uninstall_restores() -> None:
    from nbval.plugin import IPyNbCell, IPyNbFile

    before = (IPyNbCell.__dict__["runtest"], IPyNbFile.__dict__["get_kernel_message"])
    plugin.install()
    plugin.install()
    patched = IPyNbCell.__dict__["runtest"]
    assert getattr(patched, "__lcnb_display_patch__", False)
    assert getattr(patched, "__wrapped__", None) is before[0]
    plugin.uninstall()
    assert (IPyNbCell.__dict__["runtest"], IPyNbFile.__dict__["get_kernel_message"]) == before
