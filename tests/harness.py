"""A real IPython kernel for tests: start it, run cells, collect every IOPub message.

Tests talk to the kernel exactly as a front-end does (jupyter_client over ZMQ). Every IOPub
message is kept, tagged with the request that caused it, so a test can rebuild what a
front-end would show: stream text, displays, and widget comm traffic.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_client.manager import KernelManager


def _private_kernelspec_dir() -> str:
    """A kernelspec pointing at this interpreter, so tests never pick up a stray global one."""
    root = Path(tempfile.mkdtemp(prefix="lcnb-kspec-"))
    spec = root / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3 (lc_callbacks_nb tests)",
                "language": "python",
            }
        )
    )
    return str(root)


@dataclass
class CellResult:
    msg_id: str
    reply: dict[str, Any]
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str:
        return self.reply["content"]["status"]

    @property
    def stdout(self) -> str:
        return "".join(
            m["content"]["text"]
            for m in self.messages
            if m["msg_type"] == "stream" and m["content"]["name"] == "stdout"
        )

    @property
    def stderr(self) -> str:
        return "".join(
            m["content"]["text"]
            for m in self.messages
            if m["msg_type"] == "stream" and m["content"]["name"] == "stderr"
        )

    @property
    def error(self) -> dict[str, Any] | None:
        for m in self.messages:
            if m["msg_type"] == "error":
                return m["content"]
        return None

    def of_type(self, *types: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["msg_type"] in types]

    def result_text(self) -> str | None:
        for m in self.of_type("execute_result"):
            return m["content"]["data"].get("text/plain")
        return None


class KernelSession:
    """One running kernel. Use as a context manager or call shutdown()."""

    def __init__(self, env: dict[str, str] | None = None, extra_arguments: list[str] | None = None):
        kernel_env = dict(os.environ)
        self._own_spec_dir: str | None = None
        if "JUPYTER_PATH" not in kernel_env:
            self._own_spec_dir = kernel_env["JUPYTER_PATH"] = _private_kernelspec_dir()
        kernel_env.pop("OPENAI_API_KEY", None)  # tests always use the embedded server
        kernel_env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
        if env:
            kernel_env.update(env)
        self._spec_path = kernel_env["JUPYTER_PATH"]
        self.km = KernelManager(kernel_name="python3")
        self.km.kernel_spec_manager.kernel_dirs = [str(Path(self._spec_path) / "kernels")]
        self.km.start_kernel(env=kernel_env, extra_arguments=extra_arguments or [])
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)
        # All IOPub messages, in arrival order; a reader thread drains the socket.
        self.iopub: list[dict[str, Any]] = []
        self._by_parent: dict[str, queue.Queue[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read_iopub, daemon=True, name="iopub-reader")
        self._reader.start()

    # -- IOPub collection ---------------------------------------------------------------
    def _read_iopub(self) -> None:
        while not self._stop.is_set():
            try:
                msg = self.kc.get_iopub_msg(timeout=0.1)
            except queue.Empty:
                continue
            except Exception:
                if self._stop.is_set():
                    return
                continue
            msg["_received"] = time.monotonic()
            msg["_wall"] = time.time()  # comparable with time.time() stamps taken in the kernel
            parent = msg.get("parent_header", {}).get("msg_id", "")
            with self._lock:
                self.iopub.append(msg)
                q = self._by_parent.setdefault(parent, queue.Queue())
            q.put(msg)

    def _queue_for(self, msg_id: str) -> queue.Queue[dict[str, Any]]:
        with self._lock:
            return self._by_parent.setdefault(msg_id, queue.Queue())

    # -- running code -------------------------------------------------------------------
    def submit(self, code: str) -> str:
        """Send an execute_request and return its msg_id without waiting."""
        return self.kc.execute(code, store_history=True, allow_stdin=False)

    def wait(self, msg_id: str, timeout: float = 120) -> CellResult:
        """Collect this request's IOPub messages until its status goes idle, then its reply."""
        q = self._queue_for(msg_id)
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"cell {msg_id} did not finish in {timeout}s")
            try:
                msg = q.get(timeout=remaining)
            except queue.Empty as exc:
                raise TimeoutError(f"cell {msg_id} did not finish in {timeout}s") from exc
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
            messages.append(msg)
        reply = self._get_reply(msg_id, deadline)
        return CellResult(msg_id=msg_id, reply=reply, messages=messages)

    def _get_reply(self, msg_id: str, deadline: float) -> dict[str, Any]:
        while True:
            reply = self.kc.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply

    def run(self, code: str, timeout: float = 120, allow_error: bool = False) -> CellResult:
        result = self.wait(self.submit(code), timeout=timeout)
        if not allow_error and result.status != "ok":
            err = result.error or {}
            raise AssertionError(
                f"cell failed: {err.get('ename')}: {err.get('evalue')}\n"
                + "\n".join(err.get("traceback", []))
                + f"\n--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
            )
        return result

    def eval(self, expr: str, timeout: float = 60) -> Any:
        """Evaluate an expression in the kernel and return it, JSON round-tripped."""
        res = self.run(f"import json as _j; print(_j.dumps({expr}))", timeout=timeout)
        return json.loads(res.stdout.strip().splitlines()[-1])

    def interrupt(self) -> None:
        self.km.interrupt_kernel()

    def comm_messages(self, since: int = 0) -> list[dict[str, Any]]:
        with self._lock:
            return [
                m
                for m in self.iopub[since:]
                if m["msg_type"] in ("comm_open", "comm_msg", "comm_close")
            ]

    def shutdown(self) -> None:
        self._stop.set()
        try:
            self.kc.stop_channels()
        finally:
            self.km.shutdown_kernel(now=True)
            if self._own_spec_dir:
                shutil.rmtree(self._own_spec_dir, ignore_errors=True)

    def __enter__(self) -> KernelSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
