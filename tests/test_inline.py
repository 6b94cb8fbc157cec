"""Our inline handlers must not take on_llm_start away from the user's other handlers."""

from __future__ import annotations

import asyncio

from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from lc_callbacks_nb import LiveStreamHandler


class Recorder(AsyncCallbackHandler):
    def __init__(self) -> None:
        self.events: list[str] = []

    async def on_llm_start(self, serialized, prompts, **kwargs) -> None:
        self.events.append("start")

    async def on_chat_model_start(self, serialized, messages, **kwargs) -> None:
        self.events.append("start")

    async def on_llm_end(self, response, **kwargs) -> None:
        self.events.append("end")


class SyncRecorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.events: list[str] = []

    def on_llm_start(self, serialized, prompts, **kwargs) -> None:
        self.events.append("start")

    def on_llm_end(self, response, **kwargs) -> None:
        self.events.append("end")


def test_run_inline_everywhere_else():
    assert LiveStreamHandler(mode="text").run_inline is True


def test_completion_model_user_handlers_keep_on_llm_start():
    live = LiveStreamHandler(mode="text")
    rec, sync_rec = Recorder(), SyncRecorder()
    llm = FakeListLLM(responses=["hello there"])
    asyncio.run(llm.ainvoke("hi", config={"callbacks": [live, rec, sync_rec]}))
    assert rec.events == ["start", "end"]
    assert sync_rec.events == ["start", "end"]
    assert live.internal_errors == []


def test_chat_model_user_handlers_keep_every_event():
    live = LiveStreamHandler(mode="text")
    rec = Recorder()
    model = GenericFakeChatModel(messages=iter([AIMessage(content="a b")]))
    asyncio.run(model.ainvoke("hi", config={"callbacks": [live, rec]}))
    assert rec.events == ["start", "end"]
