"""The CUDA code paths against the float64 reference and against the same code on the CPU.

Run with ``pytest -m gpu`` on a machine with a GPU (excluded from the default run: CI has none).
Every test compares numbers: attention backends in fp32/bf16 (forward and backward) against the
reference, the models' logits against their CPU twins, cached decoding against recomputation,
search on the GPU against search on the CPU, and a CUDA training run (bf16 autocast, fused AdamW)
against the same run on the CPU in fp32.
"""

from __future__ import annotations

import itertools
import json

import pytest
import torch

from attnkit.attention import get_backend
from attnkit.config import ModelConfig
from attnkit.data import masks
from attnkit.decode import greedy_generate
from attnkit.decode.search import beam_search
from attnkit.models import Decoder, EncoderDecoder, model_config
from attnkit.models.speech import SpeechEncoderDecoder
from tests.attention.test_backends import EXACT, _inputs
from tests.attention.test_backends import _run as run_backend
from tests.conftest import tol

pytestmark = pytest.mark.gpu

V = 50


@pytest.fixture(scope="module", autouse=True)
def cuda() -> torch.device:
    if not torch.cuda.is_available():
        pytest.fail("these tests need a CUDA device: torch.cuda.is_available() is False")
    return torch.device("cuda")


@pytest.mark.parametrize(
    ("backend", "dtype", "causal", "padding", "h_kv"),
    list(itertools.product(EXACT, [torch.float32, torch.bfloat16], [False, True], [False, True], [8, 2])),
)
def test_backend_on_cuda_matches_float64_reference(backend, dtype, causal, padding, h_kv):
    # T = S = 64 and D = 32 let sdpa pick its fused kernels (flash / memory-efficient) on CUDA.
    q, k, v = _inputs(3, 8, h_kv, 64, 64, d=32)
    mask = None
    if padding:
        mask = masks.expand_padding(masks.lengths_to_padding_mask(torch.tensor([64, 50, 7]), 64))
    ref = run_backend("reference", q, k, v, torch.float64, "cpu", mask=mask, is_causal=causal)
    got = run_backend(backend, q, k, v, dtype, "cuda", mask=mask, is_causal=causal)
    torch.testing.assert_close(got[0], ref[0], **tol(dtype, "out"))
    for g_got, g_ref in zip(got[1:], ref[1:], strict=True):
        torch.testing.assert_close(g_got, g_ref, **tol(dtype, "grad"))


def test_linear_attention_on_cuda_matches_cpu():
    q, k, v = (x.float() for x in _inputs(2, 4, 4, 40, 40, d=32))
    for causal in (False, True):
        cpu, _ = get_backend("linear")(q, k, v, is_causal=causal)
        gpu, _ = get_backend("linear")(q.cuda(), k.cuda(), v.cuda(), is_causal=causal)
        torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-4, rtol=1e-4)


DECODERS = {
    "learned": {},
    "rope+gqa+rmsnorm+swiglu": {"positions": "rope", "n_kv_heads": 2, "norm": "rmsnorm", "mlp": "swiglu"},
}


@pytest.mark.parametrize("variant", DECODERS)
def test_decoder_on_cuda_matches_cpu_and_its_cache(variant):
    model = Decoder(model_config("tiny", vocab_size=V, **DECODERS[variant])).eval()
    ids = torch.randint(0, V, (3, 24))
    with torch.no_grad():
        cpu = model(ids).logits
        model.cuda()
        full = model(ids.cuda()).logits
        cache = model.new_cache(3, 24)
        steps = [model(ids[:, :10].cuda(), cache=cache).logits]
        steps += [model(ids[:, i : i + 1].cuda(), cache=cache).logits for i in range(10, 24)]
        with torch.autocast("cuda", dtype=torch.bfloat16):
            bf16 = model(ids.cuda()).logits.float()
    torch.testing.assert_close(full.cpu(), cpu, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(torch.cat(steps, 1), full, atol=1e-4, rtol=1e-4)
    assert (bf16.cpu() - cpu).abs().max() < 0.1
    prompt = ids[:, :5]
    assert torch.equal(
        greedy_generate(model, prompt.cuda(), 20).cpu(), greedy_generate(model.cpu(), prompt, 20)
    )


def test_hf_gpt2_logits_on_cuda():
    pytest.importorskip("transformers")
    from tests.pretrained.test_gpt2 import tiny_gpt2_pair

    hf, ours = tiny_gpt2_pair(n_embd=64, n_layer=2)
    ours = ours.cuda()
    ids = torch.randint(0, 97, (2, 30))
    with torch.no_grad():
        want = hf.cuda()(ids.cuda()).logits
        got = ours(ids.cuda()).logits
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)


def test_seq2seq_beam_search_on_cuda_equals_cpu():
    model = EncoderDecoder(model_config("tiny", vocab_size=V)).eval()
    src = torch.randint(4, V, (4, 11))
    src_mask = torch.ones(4, 11, dtype=torch.bool)
    src_mask[2, 6:] = False
    kw = dict(bos_id=1, eos_id=2, max_len=15, beam_size=4)
    cpu = beam_search(model, src, src_mask, **kw)
    gpu = beam_search(model.cuda(), src.cuda(), src_mask.cuda(), **kw)
    assert gpu == cpu and len(gpu) == 4


def test_speech_encoder_on_cuda_matches_cpu():
    cfg = ModelConfig(
        vocab_size=20,
        d_model=32,
        n_heads=4,
        n_layers=2,
        n_encoder_layers=2,
        input_dim=8,
        max_seq_len=64,
        positions="sinusoidal",
        pad_id=0,
    )
    model = SpeechEncoderDecoder(cfg).eval()
    x, mask = torch.randn(2, 37, 8), torch.ones(2, 37, dtype=torch.bool)
    mask[1, 20:] = False
    with torch.no_grad():
        cpu, cpu_mask = model.encode(x, mask)
        gpu, gpu_mask = model.cuda().encode(x.cuda(), mask.cuda())
    assert torch.equal(gpu_mask.cpu(), cpu_mask)
    real = cpu_mask[..., None]
    torch.testing.assert_close((gpu.cpu() * real), (cpu * real), atol=1e-4, rtol=1e-4)


def test_training_on_cuda_tracks_the_cpu_run(tmp_path, tiny_corpus):
    """Same seed, same batches: CUDA with bf16 autocast and fused AdamW against CPU fp32. The
    losses agree to bf16 precision, both fall, and the CUDA checkpoint loads on the CPU."""
    from attnkit import api
    from tests.conftest import tiny_run_config

    losses = {}
    for dev in ("cpu", "cuda"):
        cfg = tiny_run_config(
            tmp_path / dev, tiny_corpus, f"train.device={dev}", "train.max_steps=20", "train.eval_every=20"
        )
        api.train(cfg)
        rows = (tmp_path / dev / "metrics.jsonl").read_text().splitlines()
        losses[dev] = [r["loss"] for r in map(json.loads, rows) if r["kind"] == "train"]
    assert len(losses["cuda"]) == len(losses["cpu"]) == 20
    assert losses["cuda"][0] == pytest.approx(losses["cpu"][0], abs=2e-2)
    assert losses["cuda"][-1] < 0.9 * losses["cuda"][0]
    assert abs(losses["cuda"][-1] - losses["cpu"][-1]) < 0.1 * losses["cpu"][-1]
    loaded = api.load(tmp_path / "cuda", device="cpu")
    assert next(loaded.model.parameters()).device.type == "cpu"
    reloaded = api.load(tmp_path / "cuda", device="cuda")
    ids = torch.randint(0, loaded.tokenizer.vocab_size, (1, 16))
    with torch.no_grad():
        torch.testing.assert_close(
            reloaded.model(ids.cuda()).logits.cpu(), loaded.model(ids).logits, atol=1e-4, rtol=1e-4
        )


@pytest.mark.parametrize("max_seq_len", [128, 24])  # 24: 60 new tokens slide the window
def test_cuda_graph_decoding_gives_the_eager_tokens(max_seq_len):
    from attnkit.config import DecodeConfig
    from attnkit.decode import generate_ids
    from attnkit.decode.graphs import StepGraph

    model = Decoder(model_config("tiny", vocab_size=V, max_seq_len=max_seq_len)).eval().cuda()
    prompt = torch.randint(0, V, (2, 6), device="cuda")
    cfg = DecodeConfig(max_new_tokens=60, temperature=0)
    graphed = torch.stack(list(generate_ids(model, prompt, cfg)), 1)
    eager = torch.stack(
        list(generate_ids(model, prompt, DecodeConfig(max_new_tokens=60, temperature=0, cuda_graphs=False))),
        1,
    )
    assert torch.equal(graphed, eager)
    step = StepGraph(model, 2, 32)
    assert step.graph is not None
    with torch.no_grad():
        cache = model.new_cache(2, 32)
        want = model(prompt, cache=cache).logits[:, -1]
        torch.testing.assert_close(step.prefill(prompt), want, atol=1e-5, rtol=1e-5)
        for i in range(6, 12):
            tok = want.argmax(-1)
            want = model(tok[:, None], cache=cache).logits[:, -1]
            torch.testing.assert_close(step.step(tok, i), want, atol=1e-5, rtol=1e-5)


def test_cuda_graph_decoding_from_two_threads_at_once():
    """The web app decodes in worker threads: two captures and replays at once give each thread
    the tokens it gets alone."""
    from concurrent.futures import ThreadPoolExecutor

    from attnkit.config import DecodeConfig
    from attnkit.decode import generate_ids

    model = Decoder(model_config("tiny", vocab_size=V)).eval().cuda()
    prompts = [torch.randint(0, V, (1, 5), device="cuda") for _ in range(4)]
    cfg = DecodeConfig(max_new_tokens=40, temperature=0)

    def run(p):
        with torch.no_grad():
            return torch.stack(list(generate_ids(model, p, cfg)), 1).cpu()

    alone = [run(p) for p in prompts]
    with ThreadPoolExecutor(2) as pool:
        together = list(pool.map(run, prompts))
    for a, b in zip(alone, together, strict=True):
        assert torch.equal(a, b)
