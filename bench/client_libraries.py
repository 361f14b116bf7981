"""Real client libraries against the LLM server: do their tool-calling structured-output modes parse?

    python -m bench.client_libraries --url http://127.0.0.1:8080/v1 [--seeds 5]

Each case asks the library for a pydantic model through its tool-calling path and counts the seeds whose
answer parsed into that model: openai ``tools`` with ``tool_choice: "required"``, langchain-openai
``with_structured_output(method="function_calling")``, instructor ``Mode.TOOLS``, pydantic-ai's default
output (an output tool), llama-index ``structured_predict`` (OpenAILike with function calling). The libraries
are not project dependencies: install them in any environment (``pip install openai langchain-openai
instructor pydantic-ai-slim[openai] llama-index-core llama-index-llms-openai-like``); a missing one is
reported as skipped. Run it with any Python that has them; it imports nothing from the project.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import traceback
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field

PROMPT = (
    "A camera saw a person in a dark hoodie trying the back door handle at 03:10 on the Back Yard camera. "
    "Report the camera, the hour and whether it is a threat."
)


class Sighting(BaseModel):
    """What a camera saw."""

    camera: str = Field(description="the camera's name")
    hour: int = Field(ge=0, le=23, description="the hour of the day, 0-23")
    threat: bool = Field(description="whether this is a threat to the home")


def openai_tools(url: str, seed: int) -> Sighting:
    import json

    import openai

    client = openai.OpenAI(base_url=url, api_key="none")
    tool = {"type": "function", "function": {"name": "Sighting", "parameters": Sighting.model_json_schema()}}
    r = client.chat.completions.create(
        model="default",
        messages=[{"role": "user", "content": PROMPT}],
        tools=[tool],  # type: ignore[list-item]
        tool_choice="required",
        seed=seed,
        max_tokens=200,
    )
    call = r.choices[0].message.tool_calls[0]  # type: ignore[index]
    return Sighting.model_validate(json.loads(call.function.arguments))  # type: ignore[union-attr]


def langchain_function_calling(url: str, seed: int) -> Sighting:
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(base_url=url, api_key="none", model="default", seed=seed, max_tokens=200)  # type: ignore[call-arg]
    result = llm.with_structured_output(Sighting, method="function_calling").invoke(PROMPT)
    return Sighting.model_validate(result)


def instructor_tools(url: str, seed: int) -> Sighting:
    import instructor
    import openai

    client = instructor.from_openai(openai.OpenAI(base_url=url, api_key="none"), mode=instructor.Mode.TOOLS)
    return client.chat.completions.create(
        model="default",
        response_model=Sighting,
        messages=[{"role": "user", "content": PROMPT}],
        seed=seed,
        max_tokens=200,
        max_retries=0,
    )


def pydantic_ai_default(url: str, seed: int) -> Sighting:
    from pydantic_ai import Agent
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    model = OpenAIChatModel("default", provider=OpenAIProvider(base_url=url, api_key="none"))
    agent = Agent(model, output_type=Sighting, retries=0)
    result = agent.run_sync(PROMPT, model_settings={"seed": seed, "max_tokens": 200})
    return result.output


def llama_index_structured_predict(url: str, seed: int) -> Sighting:
    from llama_index.core.prompts import PromptTemplate
    from llama_index.llms.openai_like import OpenAILike

    llm = OpenAILike(
        model="default",
        api_base=url,
        api_key="none",
        is_chat_model=True,
        is_function_calling_model=True,
        max_tokens=200,
        additional_kwargs={"seed": seed},
    )
    result = llm.structured_predict(Sighting, PromptTemplate("{text}"), text=PROMPT)
    return Sighting.model_validate(result)


CASES: dict[str, tuple[str, Callable[[str, int], Sighting]]] = {
    "openai tools, tool_choice required": ("openai", openai_tools),
    "langchain with_structured_output(function_calling)": ("langchain_openai", langchain_function_calling),
    "instructor Mode.TOOLS": ("instructor", instructor_tools),
    "pydantic-ai default output (output tool)": ("pydantic_ai", pydantic_ai_default),
    "llama-index structured_predict (function calling)": (
        "llama_index.llms.openai_like",
        llama_index_structured_predict,
    ),
}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default="http://127.0.0.1:8080/v1", help="the server's OpenAI base URL")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--verbose", action="store_true", help="print each failure's traceback")
    args = p.parse_args()
    print("| client | parsed | note |")
    print("| --- | --- | --- |")
    for name, (module, case) in CASES.items():
        if not _installed(module):
            print(f"| {name} | skipped | {module} not installed |")
            continue
        ok, notes = 0, []
        for seed in range(args.seeds):
            try:
                result: Any = case(args.url, seed)
                if asyncio.iscoroutine(result):  # pragma: no cover - every case above is synchronous
                    result = asyncio.run(result)
                Sighting.model_validate(result)
                ok += 1
            except Exception as exc:  # a harness reports every failure and goes on
                notes.append(f"{type(exc).__name__}: {str(exc)[:80]}")
                if args.verbose:
                    traceback.print_exc()
        note = "; ".join(dict.fromkeys(notes)).replace("|", "/").replace("\n", " ")
        print(f"| {name} | {ok}/{args.seeds} | {note} |")


if __name__ == "__main__":
    main()
