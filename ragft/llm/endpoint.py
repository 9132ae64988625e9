"""Any OpenAI-compatible endpoint through the `openai` client (OpenAI, vLLM, Ollama,
`transformers serve`).

The client itself retries 429, 5xx, timeouts and dropped connections with exponential
backoff (`max_retries`); requests run `concurrency` at a time; a reply is always checked
against the request's schema, whether or not the server honoured `response_format`. The key
is read from the environment variable the config names and is never written anywhere.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import Any

from ragft.llm import LLMError, Reply, Request, parse_reply

log = logging.getLogger(__name__)


class EndpointBackend:
    def __init__(
        self,
        base_url: str,
        model: str,
        api_key_env: str,
        concurrency: int = 4,
        max_retries: int = 3,
        timeout: float = 60.0,
        structured_output: bool = True,
        max_tokens: int = 1024,
        config_prefix: str = "datagen.endpoint",
    ):
        import openai

        self.base_url, self.model, self.api_key_env = base_url, model, api_key_env
        self.concurrency = concurrency
        self.max_tokens = max_tokens
        self.structured = structured_output
        self.client = openai.OpenAI(
            base_url=base_url,
            api_key=os.environ.get(api_key_env) or "unset",  # local servers take any key
            max_retries=max_retries,
            timeout=timeout,
        )
        self.max_retries = max_retries
        self.prefix = config_prefix  # the config keys the error messages name

    def complete(
        self, requests: Sequence[Request], on_reply: Callable[[int, Reply], None] | None = None
    ) -> list[Reply]:
        replies: list[Reply | None] = [None] * len(requests)
        with ThreadPoolExecutor(max_workers=max(1, self.concurrency)) as pool:
            pending = {pool.submit(self._one, r): i for i, r in enumerate(requests)}
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)  # journal each as it lands
                for fut in done:
                    i = pending.pop(fut)
                    if fut.exception() is not None:
                        for other in pending:
                            other.cancel()
                        raise fut.exception()
                    replies[i] = fut.result()
                    if on_reply is not None:
                        on_reply(i, replies[i])
        return [r for r in replies if r is not None]

    def _one(self, request: Request) -> Reply:
        kwargs: dict[str, Any] = {
            "model": self.model,
            "max_tokens": min(request.max_tokens, self.max_tokens),
            "temperature": 0.0,
        }
        if request.prompt is not None:  # rendered already: continued as it is
            kwargs["prompt"] = request.prompt
        else:
            kwargs["messages"] = request.messages()
        if request.schema is not None and self.structured:
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "record", "schema": request.schema},
            }
        response = self._create(kwargs)
        choice = response.choices[0] if response.choices else None
        if choice is None:
            text = ""
        else:
            text = (choice.text if "prompt" in kwargs else choice.message.content) or ""
        usage = response.usage
        return parse_reply(
            text,
            request.schema,
            getattr(usage, "prompt_tokens", 0) or 0,
            getattr(usage, "completion_tokens", 0) or 0,
        )

    def _create(self, kwargs: dict[str, Any]):
        import openai

        where, p = f"{self.base_url} (model {self.model!r})", self.prefix
        api = self.client.completions if "prompt" in kwargs else self.client.chat.completions
        try:
            return api.create(**kwargs)
        except openai.AuthenticationError:
            raise LLMError(
                f"{where} refused the key (401): put a valid key in ${self.api_key_env} "
                f"({p}.api_key_env names the variable)"
            ) from None
        except openai.PermissionDeniedError:
            raise LLMError(
                f"{where}: the key in ${self.api_key_env} may not use this model (403)"
            ) from None
        except openai.NotFoundError:
            raise LLMError(
                f"{where} answered 404: no such model there, or base_url is not an "
                f"OpenAI-compatible /v1 root (check {p}.model and {p}.base_url)"
            ) from None
        except openai.BadRequestError as e:
            if "model" in str(e).lower():
                raise LLMError(f"{where} does not serve that model (400): {_brief(e)}") from None
            if "response_format" in kwargs:
                log.warning("%s does not take response_format; validating replies only", where)
                self.structured = False
                kwargs = {k: v for k, v in kwargs.items() if k != "response_format"}
                return self._create(kwargs)
            raise LLMError(f"{where} rejected the request (400): {_brief(e)}") from None
        except openai.APITimeoutError:
            raise LLMError(
                f"{where} timed out {self.max_retries + 1} times; raise "
                f"{p}.timeout or lower {p}.concurrency"
            ) from None
        except openai.APIConnectionError:
            raise LLMError(
                f"cannot connect to {self.base_url}: is the server running? ({p}.base_url)"
            ) from None
        except openai.APIStatusError as e:  # 429 and 5xx after every retry
            raise LLMError(
                f"{where} kept answering {e.status_code} through {self.max_retries} retries; "
                f"try again later or raise {p}.max_retries"
            ) from None


def _brief(err: Exception) -> str:
    return str(err).replace("\n", " ")[:300]
