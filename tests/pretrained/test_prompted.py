"""Decoder-only pair tasks (summarization-lm, dialogue-lm, translation-lm) on a tiny random LLaMA
saved as an HF directory: the loss mask, the stored template, decoder-only beam search, LoRA."""

from __future__ import annotations

import logging

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

import attnkit
from attnkit.config import RunConfig, apply_overrides
from attnkit.data.prompt_pairs import prompt_batch
from attnkit.data.seq2seq import IGNORE_INDEX
from attnkit.decode.prompted import left_pad, prompted_beam_search, prompted_sample
from attnkit.tasks.prompted import PromptedLMTask, template_of
from attnkit.text.prompt import PromptTemplate

from .conftest import PAIR_TEXTS

PAIRS = list(zip(PAIR_TEXTS[::2], PAIR_TEXTS[1::2], strict=True))


def _write_pairs(tmp_path, n: int = 12) -> dict[str, str]:
    paths = {}
    for split in ("train", "valid", "test"):
        p = tmp_path / f"{split}.tsv"
        rows = [PAIRS[i % len(PAIRS)] for i in range(n if split == "train" else 3)]
        lines = [f"{s.replace(chr(10), chr(92) + 'n')}\t{t}\n" for s, t in rows]  # a line break as \\n
        p.write_text("".join(lines), encoding="utf-8")
        paths[split] = str(p)
    return paths


def _cfg(tmp_path, init_dir, *extra: str) -> RunConfig:
    files = _write_pairs(tmp_path)
    return apply_overrides(RunConfig(), [
        "task=summarization-lm", f"out_dir={tmp_path / 'run'}", f"init_from={init_dir}", "data.dataset=null",
        f"data.train_file={files['train']}", f"data.valid_file={files['valid']}",
        f"data.test_file={files['test']}", "data.max_src_len=48", "data.max_tgt_len=24",
        "train.batch_size=4", "train.max_steps=3", "train.eval_every=3", "train.eval_batches=1",
        "train.warmup_steps=1", "train.lr=1e-3", "train.min_lr=1e-4", "train.progress=false",
        "decode.beam_size=1", *extra,
    ])  # fmt: skip


@pytest.fixture(scope="module")
def pre(chat_llama_dir):
    return attnkit.load(chat_llama_dir)


def test_template_formats_render_as_documented(pre):
    chat = PromptTemplate("chatml", "Summarize.", system="Be brief.")
    assert chat.render("X") == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nSummarize.\n\nX<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert PromptTemplate("plain", "", answer="Summary:").render("X") == "X\nSummary:\n"
    tok = pre.tokenizer
    ids, cut = chat.encode(tok, "Tom lost his keys.", 3, keep="end")
    head, tail = tok.encode(chat.head), tok.encode(chat.tail)
    src = tok.encode("Tom lost his keys.")
    assert cut and ids == head + src[-3:] + tail
    assert chat.encode(tok, "Tom lost his keys.", 3)[0] == head + src[:3] + tail
    plain = PromptTemplate("plain", "Summarize.", answer="Summary:")
    assert plain.encode(tok, "a", 10)[0][0] == tok.bos_id  # plain prompts start with <bos>
    assert chat.overhead(tok) == len(head) + len(tail)


def test_prompt_tokens_carry_no_loss_and_the_head_runs_on_targets_only(tmp_path, chat_llama_dir, pre):
    task = PromptedLMTask(_cfg(tmp_path, chat_llama_dir), tokenizer=pre.tokenizer)
    data = task.split("train")
    batch = prompt_batch(data.prompts[:3], data.targets[:3], pre.tokenizer.pad_id)
    for i in range(3):
        p, t = data.prompts[i], data.targets[i]
        row = batch["labels"][i]
        assert (row[: len(p) - 1] == IGNORE_INDEX).all()  # every prompt position is skipped
        assert row[len(p) - 1 : len(p) - 1 + len(t)].tolist() == t  # target tokens and <eos>
        assert (row[len(p) - 1 + len(t) :] == IGNORE_INDEX).all()  # padding
        assert t[-1] == pre.tokenizer.eos_id
    loss, n = task.loss(pre.model, batch)
    full = pre.model(batch["input"]).logits
    want = F.cross_entropy(full.flatten(0, 1), batch["labels"].flatten(), ignore_index=IGNORE_INDEX)
    torch.testing.assert_close(loss, want, rtol=1e-5, atol=1e-5)
    assert n == sum(len(t) for t in data.targets[:3])


def test_empty_and_over_long_targets_are_skipped_and_counted(tmp_path, chat_llama_dir, pre, caplog):
    cfg = _cfg(tmp_path, chat_llama_dir, "data.max_tgt_len=4")
    splits = {s: {"src": ["a b", "c d", "e f"], "tgt": ["", "x", "one two three four five six"]}
              for s in ("train", "valid", "test")}  # fmt: skip
    with caplog.at_level(logging.WARNING):
        task = PromptedLMTask(cfg, tokenizer=pre.tokenizer, splits=splits)
    assert len(task.split("train")) == 1 and task.skipped["train"] == {"empty": 1, "long_target": 1, "cut": 0}
    assert "skipped 1 pairs with an empty target and 1 with a target over" in caplog.text


def test_bad_templates_and_contexts_are_clear_errors(tmp_path, chat_llama_dir, llama_dir, pre):
    word_level = attnkit.load(llama_dir[0]).tokenizer  # whitespace words: "\n\n" cannot round-trip
    with pytest.raises(ValueError, match="does not round-trip through the tokenizer"):
        PromptedLMTask(_cfg(tmp_path, chat_llama_dir, "data.prompt_format=plain"), tokenizer=word_level)
    task = PromptedLMTask(_cfg(tmp_path, chat_llama_dir, "data.max_src_len=400"), tokenizer=pre.tokenizer)
    with pytest.raises(ValueError, match=r"exceeds the pretrained model's context of 256; lower data"):
        task.model_config(pre.cfg.model)
    cfg = _cfg(tmp_path, chat_llama_dir)
    with pytest.raises(ValueError, match="no resolved prompt template"):
        template_of(cfg.data)  # "auto" is not a template a checkpoint can be read with


def test_training_saves_the_template_that_inference_rebuilds_byte_for_byte(tmp_path, chat_llama_dir, pre):
    cfg = _cfg(tmp_path, chat_llama_dir, "model.lora_rank=4", "model.lora_targets=[q_proj,v_proj]")
    attnkit.train(cfg)
    lm = attnkit.load(tmp_path / "run" / "best")
    d = lm.cfg.data
    assert (d.prompt_format, d.instruction, d.answer, d.source_keep) == (
        "chatml", "Summarize the following text.", "Summary:", "start")  # fmt: skip
    task = lm.task
    for i, src in enumerate(task.sources("train")[:3]):
        ids = lm.predictor.prompt(src)
        assert ids == task.split("train").prompts[i]  # the ids the model was trained on
        text = lm.tokenizer.decode(ids, skip_special=False)
        assert text == template_of(d).render(src)  # and the documented template, byte for byte
    out = lm.summarize([src, ""], beam_size=2)
    assert len(out) == 2 and out[1] == "" and isinstance(out[0], str)
    m = lm.evaluate("test", limit=3)
    assert {"rouge1", "rouge2", "rougeL", "rougeLsum", "ppl_word"} <= set(m) and m["examples"] == 3
    # LoRA trained the adapters only: every pretrained weight is unchanged.
    saved = load_file(str(tmp_path / "run" / "best" / "model.safetensors"))
    base = pre.model.state_dict()
    adapters = [k for k in saved if "lora_" in k]
    assert adapters and any(saved[k].abs().sum() > 0 for k in adapters if "lora_b" in k)
    for k, v in base.items():
        key = k if k in saved else k.replace(".weight", ".base.weight")
        if k == "lm_head.weight":  # tied to the embedding: saved once, as embed.tok.weight
            assert key not in saved and torch.equal(v, base["embed.tok.weight"])
            continue
        assert torch.equal(saved[key], v), k


def test_left_padded_rows_decode_as_they_would_alone(pre):
    prompts = [pre.tokenizer.encode(s) for s in PAIR_TEXTS[:3]]
    ids, mask, pos = left_pad(prompts, pre.tokenizer.pad_id)
    assert ids.shape == (3, max(map(len, prompts))) and mask.sum(1).tolist() == [len(p) for p in prompts]
    assert pos[0, -1].item() == len(prompts[0]) - 1
    kw = {"pad_id": pre.tokenizer.pad_id, "eos_id": pre.tokenizer.eos_id, "max_new": 8}
    together = prompted_sample(pre.model, prompts, **kw)
    assert together == [prompted_sample(pre.model, [p], **kw)[0] for p in prompts]


def test_decoder_beam_one_is_greedy_and_the_cache_matches_recomputing(pre):
    prompts = [pre.tokenizer.encode(s) for s in PAIR_TEXTS[:4]]
    kw = {"pad_id": pre.tokenizer.pad_id, "eos_id": pre.tokenizer.eos_id, "max_new": 10}
    greedy = prompted_sample(pre.model, prompts, **kw)
    assert prompted_beam_search(pre.model, prompts, beam_size=1, **kw) == greedy
    assert all(len(g) == 9 for g in greedy)  # a random model never ends early: the cap counts <eos>
    beams = prompted_beam_search(pre.model, prompts, beam_size=3, **kw)
    assert beams == prompted_beam_search(pre.model, prompts, beam_size=3, use_cache=False, **kw)
    assert beams != greedy  # a width-3 search finds other continuations on this random model


def test_grad_checkpoint_gives_the_same_loss_and_gradients(pre):
    import copy

    model = copy.deepcopy(pre.model).train()
    ids = torch.tensor([pre.tokenizer.encode(PAIR_TEXTS[0])])
    grads = []
    for flag in (False, True):
        model.cfg.grad_checkpoint = flag
        model.zero_grad()
        out = model(ids[:, :-1], targets=ids[:, 1:])
        out.loss.backward()
        grads.append((out.loss.detach(), [p.grad.clone() for p in model.parameters()]))
    torch.testing.assert_close(grads[0][0], grads[1][0])
    for a, b in zip(grads[0][1], grads[1][1], strict=True):
        torch.testing.assert_close(a, b)


def test_viz_labels_the_template_and_shows_attention_over_the_source(tmp_path, chat_llama_dir):
    from attnkit.viz.inspect import TEMPLATE_MARK, inspect_attention

    attnkit.train(_cfg(tmp_path, chat_llama_dir, "train.max_steps=1", "train.eval_every=1"))
    lm = attnkit.load(tmp_path / "run" / "best")
    src = PAIR_TEXTS[0]
    view = inspect_attention(lm, src, max_new_tokens=4)
    seg, ids = view.meta["segments"], view.meta["ids"]
    n_src = len(lm.tokenizer.encode(src))
    assert seg.count("source") == n_src and seg.count("output") == len(ids) - len(lm.predictor.prompt(src))
    assert ids[: len(seg) - seg.count("output")] == lm.predictor.prompt(src)
    labels = view.streams["decoder"].keys
    assert all(lab.startswith(TEMPLATE_MARK) == (s == "template") for lab, s in zip(labels, seg, strict=True))
    w = view.streams["decoder"].weights  # (L, B, H, T, T), rows sum to 1 over the visible keys
    assert w.shape[-1] == len(ids)
    torch.testing.assert_close(w.sum(-1), torch.ones_like(w.sum(-1)), rtol=1e-4, atol=1e-4)


def test_cli_and_web_app_serve_decoder_pair_checkpoints(tmp_path, chat_llama_dir, capsys, monkeypatch):
    from fastapi.testclient import TestClient

    from attnkit.cli.main import main
    from attnkit.serve import create_app

    attnkit.train(_cfg(tmp_path, chat_llama_dir, "train.max_steps=1", "train.eval_every=1"))
    capsys.readouterr()
    (tmp_path / "in.txt").write_text("Tom lost his keys.\nAnna comes at eight.\n", encoding="utf-8")
    run = str(tmp_path / "run")
    assert main(["summarize", "--ckpt", run, "--input", str(tmp_path / "in.txt"), "--beam", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    lm = attnkit.load(run)
    assert lines == lm.summarize(["Tom lost his keys.", "Anna comes at eight."], beam_size=2)
    assert main(["eval", "--ckpt", run, "--limit", "2"]) == 0
    out = capsys.readouterr().out
    assert "ROUGE-Lsum" in out and "per word" in out
    # dialogue-lm: the web app's chat endpoint, on (context, response) pairs from TSV files
    (tmp_path / "d").mkdir()
    dlg = _cfg(tmp_path / "d", chat_llama_dir, "task=dialogue-lm", "train.max_steps=1", "train.eval_every=1")
    attnkit.train(dlg)
    capsys.readouterr()
    chat = attnkit.load(tmp_path / "d" / "run")
    assert chat.verbs == ("chat",) and chat.cfg.data.source_keep == "end"
    assert chat.cfg.data.instruction == "Write the next turn of this conversation."
    client = TestClient(create_app({"s": lm, "c": chat}))
    r = client.post("/api/chat", json={"history": ["hi", "hello", "how are you?"], "attention": False})
    assert r.status_code == 200 and r.json()["output"] == chat.respond(["hi", "hello", "how are you?"])
    r = client.post("/api/summarize", json={"text": "Tom lost his keys.", "attention": True})
    body = r.json()
    assert r.status_code == 200 and body["output"] == lm.summarize(["Tom lost his keys."])[0]
    # Memory stays bounded: at most MAX_ROWS = 32 sequences (inputs x beams) decode at once.
    seen = []
    monkeypatch.setattr("attnkit.predict.prompted.prompted_transduce", lambda *a, **kw: seen.append(kw))
    lm.summarize(["x"], batch_size=64, beam_size=4)
    lm.summarize(["x"], batch_size=64, sample=True)
    assert [kw["batch_size"] for kw in seen] == [8, 32]


def test_a_fresh_decoder_trains_on_pairs_with_a_plain_prompt(tmp_path):
    cfg = _cfg(tmp_path, "null", "task=translation-lm", "data.tokenizer=bpe", "data.bpe_vocab_size=300",
               "model.d_model=32", "model.n_layers=2", "model.n_heads=2", "model.max_seq_len=16")  # fmt: skip
    attnkit.train(cfg)
    lm = attnkit.load(tmp_path / "run" / "best")
    d, tok = lm.cfg.data, lm.tokenizer
    want = ("plain", "Translate the following text.", "Translation:")
    assert (d.prompt_format, d.instruction, d.answer) == want
    template = template_of(d)
    assert lm.cfg.model.max_seq_len == template.overhead(tok) + 48 + 24 + 1  # grown to fit the data
    prompt = lm.predictor.prompt("Tom lost his keys.")
    assert prompt[0] == tok.bos_id and tok.decode(prompt[1:]) == template.render("Tom lost his keys.")
    assert lm.verbs == ("translate",) and len(lm.translate(["Tom lost his keys."], beam_size=2)) == 1
