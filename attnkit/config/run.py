"""Run-level configs: data, training and decoding, nested under one ``RunConfig``.

A recipe YAML maps one-to-one onto ``RunConfig``::

    task: lm
    model: {d_model: 384, n_layers: 6, ...}     # ModelConfig
    data: {dataset: tinyshakespeare, ...}        # DataConfig
    train: {max_steps: 2000, lr: 1e-3, ...}      # TrainConfig
    decode: {temperature: 0.8, ...}              # DecodeConfig

and every field can be overridden on the command line as ``train.lr=3e-4``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from attnkit.config.base import check_ranges
from attnkit.config.model import ModelConfig


@dataclass
class DataConfig:
    """Where the text comes from and how it becomes tokens."""

    dataset: str | None = "tinyshakespeare"
    """Registered dataset name (attnkit.data.datasets); None to use the *_file fields."""
    train_file: str | None = None
    """Your own UTF-8 training text (used when dataset is None); for seq2seq a TSV of
    source<TAB>target lines, for speech a TSV of audio.wav<TAB>transcript[<TAB>speaker] lines."""
    valid_file: str | None = None
    """Your own validation text."""
    test_file: str | None = None
    """Your own test text."""
    tokenizer: Literal["char", "word", "bpe"] = "char"
    """Tokenizer kind, trained on the training split."""
    bpe_vocab_size: int = 8000
    """Target vocabulary for BPE."""
    min_freq: int = 1
    """Word tokenizer: drop words seen fewer times (they become <unk>)."""
    seq_len: int = 256
    """Training/evaluation window length T."""
    src: str | None = None
    """Seq2seq: source column of the dataset (``de``, ``zh``, ``dialogue``, ``abstract``; ``src``
    for your own TSV files)."""
    tgt: str | None = None
    """Seq2seq: target column (``en``, ``summary``, ``tldr``; ``tgt`` for your own TSV files).
    Classification: the label column (default ``label``; ``fine`` for TREC's 50 classes)."""
    joint_vocab: bool = True
    """Seq2seq: one BPE vocabulary for both sides (needed for model.share_embeddings)."""
    src_bpe_vocab_size: int | None = None
    """Seq2seq with separate vocabularies: source BPE size; None = bpe_vocab_size."""
    split_cjk: Literal["auto", "yes", "no"] = "auto"
    """Isolate each CJK character before BPE; auto = when the side's text is >= 10% CJK."""
    max_src_len: int = 128
    """Seq2seq: source tokens kept (longer inputs are truncated, with a warning at inference)."""
    max_tgt_len: int = 64
    """Seq2seq: target tokens kept in training; also the default decoding length cap."""
    lowercase: bool = False
    """Lowercase both sides before tokenizing (hypotheses are then lowercase too)."""
    valid_from_train: int = 0
    """Classification: hold out this percent of train (a fixed hash rule) as the validation
    split that selects checkpoints, and score the dataset's own validation split as ``test``
    (for sets whose test labels are private, as SST-2's); 0 keeps the dataset's splits."""
    word_dropout: float = 0.0
    """Classification: in training batches, replace each text token (not the template's
    specials) by ``<unk>`` with this probability, a regulariser for small labelled sets
    (Iyyer et al. 2015); evaluation and inference never drop."""
    context_turns: int = 3
    """Dialogue: turns of history in each context (the last k, with speaker markers)."""
    prompt_format: Literal["auto", "chatml", "plain"] = "auto"
    """Decoder-only pair tasks (``summarization-lm``, ``dialogue-lm``, ``translation-lm``): how a
    source is wrapped into a prompt (:mod:`attnkit.text.prompt`); auto = chatml when the tokenizer
    has ChatML's tokens (SmolLM2-Instruct), plain otherwise. Saved resolved with the run."""
    instruction: str | None = None
    """Decoder-only pair tasks: the instruction before the source; None = the task's default."""
    system: str | None = None
    """Decoder-only pair tasks, ChatML: the system turn; None = none."""
    answer: str | None = None
    """Decoder-only pair tasks, plain format: the line before the target; None = the task's."""
    source_keep: Literal["auto", "start", "end"] = "auto"
    """Decoder-only pair tasks: which part of an over-long source is kept (its first or its last
    ``max_src_len`` tokens); auto = the task's (the end for dialogue, the start otherwise)."""
    n_mels: int = 40
    """Speech: log-mel bands per frame (10 ms frames, 32 ms windows)."""
    holdout_speaker: str | None = None
    """Speech: test on every recording of this speaker and train on the others (speaker-
    independent); None = the dataset's official split."""
    min_words: int = 1
    """Speech: recordings joined into one example (at least); 1 and 1 = single words."""
    max_words: int = 1
    """Speech: recordings joined into one example (at most): continuous digit strings are real
    recordings concatenated with silent gaps, synthetic as sequences."""
    min_gap_ms: int = 50
    """Speech strings: shortest silence between joined recordings."""
    max_gap_ms: int = 300
    """Speech strings: longest silence between joined recordings."""
    eval_strings: int = 500
    """Speech strings: fixed (seeded) joined examples per evaluation split."""
    noise_snr_db: float | None = None
    """Speech: add white noise this many dB below the speech to every example (fresh in
    training, seeded for evaluation; over the gaps of strings too); None = clean."""
    spec_augment: bool = True
    """Speech: mask random time and frequency bands of training features (Park et al. 2019)."""
    speed_perturb: float = 0.0
    """Speech: play each training recording at a random speed in [1 - x, 1 + x] (0 = off)."""
    cmvn: Literal["global", "utterance"] = "global"
    """Speech: normalise each mel band with training-set statistics (stored in the model), or
    per recording (which removes each word's average spectrum)."""

    def __post_init__(self) -> None:
        check_ranges(self, "data", {
            "bpe_vocab_size": ">=1", "min_freq": ">=1", "seq_len": ">=1", "src_bpe_vocab_size": ">=1",
            "max_src_len": ">=1", "max_tgt_len": ">=1", "context_turns": ">=1", "n_mels": ">=1",
            "min_words": ">=1", "max_words": ">=1", "min_gap_ms": ">=0", "max_gap_ms": ">=0",
            "eval_strings": ">=1", "speed_perturb": "[0,1)", "word_dropout": "[0,1)",
            "valid_from_train": "[0,100)",
        })  # fmt: skip


@dataclass
class TrainConfig:
    """The optimisation loop. Batch sizes are global: under torchrun each rank takes 1/world."""

    batch_size: int = 16
    """Sequences per micro-batch, summed over all processes."""
    grad_accum: int = 1
    """Micro-batches per optimizer step."""
    max_steps: int = 1000
    """Optimizer steps (the schedule's length)."""
    max_minutes: float | None = None
    """Wall-clock budget; the run evaluates, saves and stops when it is spent."""
    fit_schedule_to_budget: bool = False
    """With ``max_minutes``: at the first evaluation, measure the steps per minute (evaluation
    included) and, if the budget ends before ``max_steps``, end the schedule and the run at the
    step it allows, so a cosine schedule anneals instead of being cut off at a high rate. The
    fitted length is saved with checkpoints; a resumed run keeps it."""
    lr: float = 1e-3
    """Peak learning rate."""
    min_lr: float = 1e-4
    """Cosine floor."""
    warmup_steps: int = 100
    """Linear warmup from 0."""
    schedule: Literal["cosine", "inverse_sqrt", "constant"] = "cosine"
    """Decay after warmup: cosine to min_lr, 1/sqrt(step) (Noam), or constant."""
    weight_decay: float = 0.1
    """AdamW decay, applied to 2-D weights only."""
    layer_lr_decay: float = 1.0
    """Layer-wise learning-rate decay for fine-tuning: block i of L learns at
    ``lr * layer_lr_decay ** (L + 1 - i)``, embeddings at ``** (L + 1)``, the head at ``lr``;
    1 = one learning rate for all."""
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float | None = 1.0
    """Clip the global gradient norm; None disables."""
    label_smoothing: float = 0.0
    """Cross-entropy label smoothing (Szegedy et al. 2016)."""
    loss_impl: Literal["plain", "chunked"] = "plain"
    """``chunked``: the output head and cross-entropy run a chunk of rows at a time and never hold
    the full logits (:mod:`attnkit.layers.chunked_loss`; same loss and gradients, a fraction of
    the peak memory at large vocabularies). Transformer models only."""
    eval_every: int = 250
    """Evaluate (and checkpoint) every N steps."""
    eval_batches: int | None = 40
    """Batches per evaluation; None evaluates the whole split."""
    average_last: int = 0
    """At the end, also write ``<out_dir>/averaged``: the mean of the weights at the last N
    evaluations (checkpoint averaging); 0 or 1 = off."""
    select_by: str = "loss"
    """Validation metric that picks ``best/`` and drives early stopping: ``loss`` (lower is
    better) or a higher-is-better metric the task reports (``token_accuracy``, ``accuracy``)."""
    early_stopping: int | None = None
    """Stop after this many evaluations without improvement; None never stops early."""
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    """bf16 autocast; auto = bf16 on CUDA, fp32 elsewhere."""
    compile: bool = False
    """torch.compile the model (opt-in: no gain measured on CPU, slow cold start)."""
    seed: int = 1337
    log_every: int = 10
    """Log training metrics every N steps."""
    threads: int | None = None
    """torch.set_num_threads; None leaves PyTorch's default."""
    progress: bool = True
    """Show a progress bar (loss, tokens/s, ETA)."""

    def __post_init__(self) -> None:
        check_ranges(self, "train", {
            "batch_size": ">=1", "grad_accum": ">=1", "max_steps": ">=1", "max_minutes": ">0", "lr": ">=0",
            "min_lr": ">=0", "warmup_steps": ">=0", "weight_decay": ">=0", "layer_lr_decay": "(0,1]",
            "beta1": "[0,1)", "beta2": "[0,1)",
            "grad_clip": ">0", "label_smoothing": "[0,1)", "eval_every": ">=1", "eval_batches": ">=1",
            "average_last": ">=0", "early_stopping": ">=1", "log_every": ">=1", "threads": ">=1",
        })  # fmt: skip
        if self.min_lr > self.lr:
            raise ValueError(
                f"train.min_lr={self.min_lr} is above train.lr={self.lr}: the cosine schedule would "
                "rise; set train.min_lr below train.lr (fine-tuning: e.g. lr/10)"
            )


@dataclass
class DecodeConfig:
    """Generation settings (see attnkit.decode)."""

    max_new_tokens: int = 200
    temperature: float = 1.0
    """0 = greedy."""
    top_k: int | None = None
    top_p: float | None = None
    repetition_penalty: float = 1.0
    """> 1 discourages tokens already present (Keskar et al. 2019)."""
    stop: list[str] = field(default_factory=list)
    """Stop when any of these strings appears in the generated text."""
    prompt_overflow: Literal["truncate", "error"] = "truncate"
    """A prompt that leaves no room in the context: keep its end (with a warning) or fail."""
    seed: int | None = None
    cuda_graphs: bool = True
    """On a CUDA device, replay each decoder-only step as a CUDA graph (same tokens, fewer launch
    costs); no effect on the CPU."""
    compile: bool = False
    """On the CPU, run each decoder-only step through ``torch.compile`` on a fixed-size cache (the
    CUDA-graph step, compiled instead of captured): about 1.6x fewer ms per token for SmolLM2
    with ``--quantize int8``, after a one-off compile of about 50 s (8 s once inductor's disk
    cache is warm). Off by default: short generations do not repay the compile."""
    beam_size: int = 4
    """Seq2seq: beam width (1 = greedy)."""
    length_penalty: float = 1.0
    """Seq2seq beam search: finished scores are divided by length ** length_penalty."""
    no_repeat_ngram: int = 0
    """Seq2seq: forbid repeating any n-gram of this size (0 = off)."""
    sample: bool = False
    """Seq2seq: sample (temperature/top-k/top-p) instead of beam search."""
    max_len_a: float = 1.5
    """Seq2seq: a generated target has at most max_len_a * source_len + max_len_b tokens
    (and never more than data.max_tgt_len * 2)."""
    max_len_b: int = 10

    def __post_init__(self) -> None:
        check_ranges(self, "decode", {
            "max_new_tokens": ">=0", "temperature": ">=0", "top_k": ">=1", "top_p": "(0,1]",
            "repetition_penalty": ">0", "beam_size": ">=1", "length_penalty": "any", "no_repeat_ngram": ">=0",
            "max_len_a": ">=0", "max_len_b": ">=0",
        })  # fmt: skip


@dataclass
class RunConfig:
    """Everything one training run needs; saved as config.yaml with every checkpoint."""

    task: str = "lm"
    """A registered task kind (:mod:`attnkit.tasks.registry`): lm, translation, summarization,
    dialogue, classification, speech, embedding, or one registered by your code."""
    out_dir: str = "runs/lm"
    """Where checkpoints, metrics.jsonl and plots go."""
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    init_from: str | None = None
    """Fine-tune a pretrained model (``minilm``, ``smollm2`` or an HF-format directory): its
    architecture, weights and tokenizer replace ``model.*`` and ``data.tokenizer``, except the
    fine-tuning knobs taken from ``model``: dropout, attn_dropout, pooling, attn_backend and the
    lora_* settings."""

    def __post_init__(self) -> None:
        # The one upward import config makes, besides attention.registry: the registry module is
        # plain data, loaded by the time any RunConfig is built.
        from attnkit.tasks.registry import check_task_name

        try:
            check_task_name(self.task)
        except ValueError as e:
            raise ValueError(f"task: {e}") from None
