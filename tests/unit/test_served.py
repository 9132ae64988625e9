"""The served backend's rules (which cells may use it), what identifies a served cell, the
raw-prompt request, and the inference dtype (`modeling.inference_dtype`)."""

from __future__ import annotations

import copy

import pytest
import torch

from ragft import modeling, runtime, served
from ragft.cache import hash_key
from ragft.config import EndpointConfig, cell_identity
from ragft.generation import Generated, cost_figures
from ragft.llm import Request

from ..helpers import micro_llama
from .test_config import make, problems

SERVED = {"generation__backend": "openai", "generation__endpoint__model": "tiny"}


def test_only_cells_that_do_not_train_may_be_served():
    assert make(approach__name="rag", **SERVED).generation.backend == "openai"
    assert make(approach__name="base", **SERVED)
    (msg,) = problems(approach__name="finetune", **SERVED)
    assert msg.startswith("generation.backend=openai answers with the server's weights, but "
                          "approach=finetune trains its own")  # fmt: skip
    assert problems(approach__name="rag", quant__name="nf4", **SERVED) == [
        "quant=nf4 quantises local weights; a served model is quantised by its server "
        "(give quant=none)"
    ]


def test_a_served_cell_names_its_model_and_its_options_are_checked():
    assert problems(generation__backend="openai") == [
        "generation.endpoint.model is required: the name the server serves the model under"
    ]
    assert problems(generation__backend="vllm") == [
        "generation.backend='vllm' is not allowed; choose one of: local, openai"
    ]
    assert problems(generation__batching="paged") == [
        "generation.batching='paged' is not allowed; choose one of: static, continuous, auto"
    ]
    assert problems(model__inference_dtype="int4") == [
        "model.inference_dtype='int4' is not allowed; choose one of: "
        "auto, float32, bfloat16, float16"
    ]


def test_a_served_cell_is_known_by_its_url_and_model_not_by_how_requests_are_sent():
    one = cell_identity(make(**SERVED))
    assert one["generation"]["endpoint"] == {"base_url": "http://127.0.0.1:8000/v1",
                                             "model": "tiny"}  # fmt: skip
    assert "quant" not in one and "batch_size" not in one["generation"]
    busy = make(**SERVED, generation__endpoint__concurrency=16, generation__endpoint__timeout=5,
                generation__batch_size=2)  # fmt: skip
    assert cell_identity(busy) == one
    other = make(**{**SERVED, "generation__endpoint__model": "other"})
    assert cell_identity(other) != one
    # a local cell ignores the endpoint altogether
    local = cell_identity(make(generation__endpoint__model="ignored"))
    assert "endpoint" not in local["generation"] and local == cell_identity(make())


def test_a_chat_requests_key_is_as_before_and_a_raw_prompt_has_its_own():
    chat = Request("sys", "user", None, 8)
    assert chat.key == hash_key({"s": "sys", "u": "user", "j": None, "m": 8})  # journals hold
    raw = Request("", "", None, 8, prompt="<|im_start|>user\nQ<|im_end|>\n")
    assert raw.key != Request("", "", None, 8, prompt="other").key != chat.key


def test_journal_is_one_file_per_served_model(tmp_path):
    a = served.journal_path(tmp_path, EndpointConfig(model="a"))
    assert a == served.journal_path(tmp_path, EndpointConfig(model="a", concurrency=9))
    assert a != served.journal_path(tmp_path, EndpointConfig(model="b"))
    assert a.parent == tmp_path / served.JOURNAL_DIR


def test_served_cost_figures_use_the_servers_token_counts():
    outs = [Generated("A", 3, 100), Generated("B", 5, 50)]
    s = cost_figures(outs, 2.0, 4)
    assert (s.generated_tokens, s.generate_tokens_per_s, s.seconds_per_question) == (8, 4.0, 1.0)
    assert (s.prompt_tokens_per_question, s.generate_batch_size) == (75.0, 4)


@pytest.mark.parametrize("native", [True, False])
def test_inference_dtype_auto_is_bf16_only_on_a_cpu_that_has_it(monkeypatch, native):
    monkeypatch.setattr(runtime, "cpu_has_bf16", lambda: native)
    model = torch.nn.Linear(2, 2)
    assert modeling.inference_dtype("auto", model) == (torch.bfloat16 if native else None)
    assert modeling.inference_dtype("float32", model) is None  # as loaded: nothing to do
    assert modeling.inference_dtype("bfloat16", model) == torch.bfloat16
    assert modeling.inference_dtype("bfloat16", model.to(torch.bfloat16)) is None
    model.is_quantized = True  # 4/8-bit weights compute in their own compute dtype
    assert modeling.inference_dtype("bfloat16", model) is None


def test_bf16_inference_answers_from_a_cast_copy_and_leaves_the_model_as_it_was():
    from ragft.answering import in_dtype

    model = micro_llama()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ids = torch.tensor([[1, 5, 7, 9]])
    low = in_dtype(model, torch.bfloat16)
    with torch.inference_mode():
        full, cast = model(ids).logits, low(ids).logits
        same = copy.deepcopy(model).to(torch.bfloat16)(ids).logits  # what .to() would give
    assert low.dtype == torch.bfloat16 and cast.dtype == torch.bfloat16
    assert torch.equal(cast, same)
    assert torch.allclose(cast.float(), full, atol=0.05) and not torch.equal(cast.float(), full)
    assert model.dtype == torch.float32
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert in_dtype(model, None) is model


@pytest.mark.parametrize("name", ["auto", "float32", "bfloat16", "float16"])
def test_every_allowed_inference_dtype_resolves(name):
    assert modeling.inference_dtype(name, torch.nn.Linear(1, 1)) in (
        None, torch.bfloat16, torch.float16,
    )  # fmt: skip
