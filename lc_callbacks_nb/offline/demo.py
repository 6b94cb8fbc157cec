"""Run a notebook headless and print its cells' output as it streams (``make demo``).

    python -m lc_callbacks_nb.offline.demo notebooks/async_callbacks.ipynb [--real] [--timeout S]

The notebook runs in a fresh kernel of this interpreter through nbclient. ``OPENAI_API_KEY`` is
removed from the kernel's environment unless ``--real`` is given, so notebooks that fall back to
the embedded ``LocalChatServer`` run offline. Stream text is printed the moment the kernel sends
it; rich outputs are printed as their ``text/plain``. A failing cell ends the run with a
one-line error and exit status 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import ipykernel.kernelspec
import nbformat
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbformat import NotebookNode

_THIS_PYTHON = "lc-callbacks-nb-demo"


class _ThisPythonSpecs(KernelSpecManager):
    """Always run the kernel on this interpreter: a stray user-level 'python3' kernelspec
    pointing at another Python would not have lc_callbacks_nb installed."""

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        if kernel_name == _THIS_PYTHON:
            return self.kernel_spec_class(
                resource_dir=ipykernel.kernelspec.RESOURCES,
                **ipykernel.kernelspec.get_kernel_dict(),
            )
        return super().get_kernel_spec(kernel_name)


class StreamingClient(NotebookClient):
    """A NotebookClient that echoes every output to a terminal as it arrives."""

    def __init__(self, nb: NotebookNode, out: TextIO, err: TextIO, **kw: Any) -> None:
        super().__init__(nb, **kw)
        self._out, self._err = out, err
        self.started = 0  # code cells started, numbered like a fresh kernel's prompts
        # Updatable displays (a board's static twin) are printed once, in their last state, when
        # their cell has run: the first state of a board is empty, its last is what was saved.
        self._displays: dict[str, str] = {}
        self.on_cell_start = self._show_source
        self.on_cell_executed = self._show_displays

    def _show_source(self, cell: NotebookNode, cell_index: int) -> None:
        if cell.cell_type != "code" or not cell.source.strip():
            return
        self.started += 1
        lines = cell.source.splitlines()
        self._out.write(f"\nIn [{self.started}]: {lines[0]}\n")
        for line in lines[1:]:
            self._out.write(f"{'...':>{len(str(self.started)) + 6}} {line}\n")
        self._out.write("\n")
        self._out.flush()

    def output(
        self,
        outs: list[NotebookNode],
        msg: dict[str, Any],
        display_id: str | None,
        cell_index: int,
    ) -> NotebookNode | None:
        out = super().output(outs, msg, display_id, cell_index)
        if out is not None and display_id and out.output_type == "display_data":
            self._displays[display_id] = out.get("data", {}).get("text/plain", "")
        elif out is not None:
            self._echo(out, cell_index)
        return out

    def _update_display_id(self, display_id: str, msg: dict[str, Any]) -> None:
        super()._update_display_id(display_id, msg)
        if display_id in self._displays:
            self._displays[display_id] = msg["content"].get("data", {}).get("text/plain", "")

    def _show_displays(self, **kwargs: Any) -> None:
        for text in self._displays.values():
            if text:
                self._out.write(f"{text}\n")
        self._out.flush()
        self._displays.clear()

    def _echo(self, out: NotebookNode, cell_index: int) -> None:
        kind = out.output_type
        if kind == "stream":
            sink = self._err if out.name == "stderr" else self._out
            sink.write(out.text)
            sink.flush()
        elif kind in ("execute_result", "display_data"):
            text = out.get("data", {}).get("text/plain")
            if text is not None:
                prefix = f"Out[{self.started}]: " if kind == "execute_result" else ""
                self._out.write(f"{prefix}{text}\n")
                self._out.flush()
        # Errors are reported once, as a single line, by run().


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, no usage dump
        self.exit(2, f"{self.prog}: error: {message}\n")


def run(
    path: Path,
    *,
    real: bool = False,
    timeout: float = 120,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """Execute the notebook at ``path``, echoing outputs; return a process exit status."""
    prog = "lc_callbacks_nb.offline.demo"
    try:
        nb = nbformat.read(path, as_version=4)
    except (OSError, ValueError) as exc:
        err.write(f"{prog}: error: cannot read notebook {str(path)!r}: {exc}\n")
        return 2
    if real and not os.environ.get("OPENAI_API_KEY"):
        err.write(f"{prog}: error: --real needs OPENAI_API_KEY in the environment\n")
        return 2
    # The kernel inherits this process's environment; without the key the notebook
    # starts the embedded server instead of calling OpenAI.
    env = dict(os.environ)
    if not real:
        env.pop("OPENAI_API_KEY", None)
    km = KernelManager(kernel_name=_THIS_PYTHON, kernel_spec_manager=_ThisPythonSpecs())
    client = StreamingClient(
        nb,
        out,
        err,
        km=km,
        timeout=timeout,
        # The kernel's own log (e.g. its unencrypted-TCP notice) is not notebook output.
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
        resources={"metadata": {"path": str(path.resolve().parent)}},
    )
    backend = "the OpenAI API" if real else "the embedded LocalChatServer"
    out.write(f"Running {path} against {backend}\n")
    out.flush()
    try:
        client.execute(env=env)  # handed through to KernelManager.start_kernel
    except CellExecutionError as exc:
        err.write(f"{prog}: error: In [{client.started}] failed: {exc.ename}: {exc.evalue}\n")
        return 1
    except (TimeoutError, RuntimeError) as exc:  # a cell timeout, a kernel that never started
        err.write(f"{prog}: error: {exc}\n")
        return 1
    finally:
        if km.has_kernel:  # nbclient leaves a kernel it did not create running
            km.shutdown_kernel(now=True)
    out.write("\nDone: every cell ran.\n")
    out.flush()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(
        prog="python -m lc_callbacks_nb.offline.demo",
        description="Execute a notebook headless, printing each cell's output as it streams.",
    )
    parser.add_argument("notebook", type=Path)
    parser.add_argument(
        "--real", action="store_true", help="keep OPENAI_API_KEY: call the real OpenAI API"
    )
    parser.add_argument("--timeout", type=float, default=120, help="seconds per cell")
    args = parser.parse_args(argv)
    return run(args.notebook, real=args.real, timeout=args.timeout)


if __name__ == "__main__":
    sys.exit(main())
