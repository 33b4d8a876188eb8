"""A scripted Gamma over `httpx.MockTransport`: tests queue answers and read back what was sent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from genmcp.providers.gamma import GammaAdapter, GammaClient, open_gamma
from tests.scripted_http import Answer, Script, Sleeps, reply

KEY = "sk-gamma-test-SECRET-0123456789"
BASE = "https://gamma.test"


def gamma_error(status: int, message: str, **headers: str) -> httpx.Response:
    return reply(status, {"message": message, "statusCode": status}, **headers)


@dataclass
class Harness:
    client: GammaClient
    adapter: GammaAdapter
    script: Script
    sleeps: Sleeps

    def answer(self, *answers: Answer) -> None:
        self.script.answers = list(answers)

    @property
    def requests(self) -> list[httpx.Request]:
        return self.script.requests


@pytest.fixture
async def gamma() -> AsyncIterator[Harness]:
    script, sleeps = Script(), Sleeps()
    async with open_gamma(BASE, KEY, transport=httpx.MockTransport(script), sleep=sleeps) as (client, adapter):
        yield Harness(client, adapter, script, sleeps)
