#!/usr/bin/python3
"""Train the test bed's drill model: a tiny llama that really answers.

The drill model is a 2-block llama (width 256, so every matrix can be
quantized to Q4_K) with a character vocabulary and a chat template of its
own. It is trained from scratch, on CPU, on five drills with checkable
answers:

  add     "7+8"                        -> "15"     two digits
  sub     "15-8"                       -> "7"      (a+b)-b for two digits a, b
  rev     "rev kqz"                    -> "zqk"    3 random letters
  max     "max A3 B8 C1 D4"            -> "B"      the label of the largest digit
  lookup  system "table 3", user "x?"     -> "7"  a fact of a table it learned

add and sub have 100 problems each and lookup 104 facts (4 tables of 26
keys, drawn once from FACTS' seed): the model learns them whole and the
suite samples them (they are not held out), so they measure recall. rev and
max are drawn from spaces far larger than the training run sees, and the
suite's cases are held out of training: those measure generalization.

This script is the whole recipe: the vocabulary, the data generator, the
model (written to match llama.cpp's llama graph, which Ollama runs), the
training loop and its hyper-parameters, and the reference outputs. It writes

  DIR/weights.safetensors   F32 weights, PyTorch layout ([out, in] rows)
  DIR/recipe.json           the configuration, vocabulary, template, seeds,
                            hyper-parameters, versions and timings
  DIR/expected.jsonl        every suite case (family, messages, answer) with
                            the trained weights' greedy output, its token
                            ids and its smallest logit margin
  SUITE                     the bundled suite (YAML), cases held out of training

Usage (scripts/testbed.sh train runs it with the right environment):

  /usr/bin/python3 train.py --out DIR --suite SUITE.yaml [--steps N]
  /usr/bin/python3 train.py --out DIR --suite SUITE.yaml --reference-only

--reference-only recomputes expected.jsonl from existing weights.

It needs python3-torch and python3-numpy (Debian). Everything is seeded and
runs on a fixed number of threads; float results on another CPU or BLAS may
still differ in the last bits, which is why reproduction is judged by the
greedy outputs (docs/testbed.md).
"""

import argparse
import json
import math
import os
import platform
import random
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

# ---------------------------------------------------------------- the recipe

# MODEL is the architecture, written into the GGUF metadata by the Go side.
MODEL = {
    "name": "evalpin-drill",
    "layers": 2,
    "width": 256,  # a multiple of 256: Ollama quantizes to Q4_K only then
    "heads": 4,
    "ffn": 256,  # a multiple of 256 too (ffn_down's rows)
    "context": 256,
    "rope_base": 10000.0,
    "norm_eps": 1e-5,
}

# TRAIN are the training hyper-parameters.
TRAIN = {
    "seed": 20240611,
    "steps": 4000,
    "batch": 64,
    "lr": 2e-3,
    "min_lr": 1e-4,
    "warmup": 50,
    "weight_decay": 0.01,
    "beta1": 0.9,
    "beta2": 0.98,
    "grad_clip": 1.0,
    "init_std": 0.02,  # attn_output and ffn_down start at zero (see init)
    "threads": 2,
}

# SUITE are the suite's parameters: cases per family, and the seed of the
# generator that draws them (another stream than the training data's).
SUITE = {"seed": 7, "per_family": 80, "max_tokens": 8}

# VALID is a validation set, drawn like the suite from a third stream, to
# watch training without looking at the suite.
VALID = {"seed": 99, "per_family": 20, "every": 250}

FAMILIES = ["add", "sub", "rev", "max", "lookup"]

# MIX is the order in which training batches draw their problems' families:
# lookup and max twice as often as the others.
MIX = ["add", "sub", "rev", "max", "lookup", "max", "lookup"]

# FINITE are the families whose whole problem space the model learns: their
# suite cases are not held out of training.
FINITE = {"add", "sub", "lookup"}

# FACTS is the lookup drill's fact tables: TABLES tables, each giving every
# letter a digit, drawn once from seed. The table is named by the system
# message, so that the chat template's handling of a system message matters.
FACTS = {"seed": 1207, "tables": 4}


def fact_tables():
    rng = random.Random(FACTS["seed"])
    return [{k: rng.randrange(10) for k in "abcdefghijklmnopqrstuvwxyz"} for _ in range(FACTS["tables"])]


TABLES = fact_tables()

# ------------------------------------------------------------ the vocabulary

SPACE = "\u2581"  # SentencePiece's word-boundary mark, which replaces spaces

# Special tokens, in id order. llama.cpp finds control tokens in the
# rendered prompt by their text, so the template writes them out.
SPECIAL = ["<unk>", "<s>", "</s>", "<|system|>", "<|user|>", "<|assistant|>"]
UNK, BOS, EOS = 0, 1, 2

# Token types of tokenizer.ggml.token_type (llama.cpp's llama_token_type).
TYPE_NORMAL, TYPE_UNKNOWN, TYPE_CONTROL, TYPE_BYTE = 1, 2, 3, 6


def vocabulary():
    """Returns the tokens and their types: the special tokens, the 256
    byte-fallback tokens <0x00>..<0xFF>, the space mark and the printable
    ASCII characters, one token each. With only single characters there is
    nothing for the SentencePiece tokenizer to merge, so every character is
    one token, a space is the space mark, and anything else falls back to
    its UTF-8 bytes."""
    tokens = list(SPECIAL)
    types = [TYPE_UNKNOWN] + [TYPE_CONTROL] * (len(SPECIAL) - 1)
    for b in range(256):
        tokens.append("<0x%02X>" % b)
        types.append(TYPE_BYTE)
    tokens.append(SPACE)
    types.append(TYPE_NORMAL)
    for c in range(0x21, 0x7F):
        tokens.append(chr(c))
        types.append(TYPE_NORMAL)
    return tokens, types


TOKENS, TOKEN_TYPES = vocabulary()
TOKEN_ID = {t: i for i, t in enumerate(TOKENS)}

# TEMPLATE is the chat template in Ollama's Go template syntax: every
# message as <|role|>content</s>, then <|assistant|>. BOS comes from the
# tokenizer (tokenizer.ggml.add_bos_token).
TEMPLATE = (
    "{{- range .Messages }}<|{{ .Role }}|>{{ .Content }}</s>{{ end }}<|assistant|>"
)


def render(messages):
    """Renders messages as TEMPLATE does."""
    out = "".join("<|%s|>%s</s>" % (m["role"], m["content"]) for m in messages)
    return out + "<|assistant|>"


def tokenize(text):
    """Tokenizes text as llama.cpp does for this vocabulary with special
    tokens parsed (Ollama's runner asks for that) and no space prefix
    (tokenizer.ggml.add_space_prefix is false): BOS, then special tokens
    where their text occurs, else one token per character."""
    ids = [BOS]
    i = 0
    specials = sorted(SPECIAL, key=len, reverse=True)
    while i < len(text):
        for s in specials:
            if text.startswith(s, i):
                ids.append(TOKEN_ID[s])
                i += len(s)
                break
        else:
            c = text[i]
            piece = SPACE if c == " " else c
            if piece in TOKEN_ID:
                ids.append(TOKEN_ID[piece])
            else:
                ids.extend(TOKEN_ID["<0x%02X>" % b] for b in c.encode("utf-8"))
            i += 1
    return ids


def detokenize(ids):
    """Returns the text of generated ids, as Ollama streams it."""
    out = bytearray()
    for i in ids:
        t = TOKENS[i]
        if TOKEN_TYPES[i] == TYPE_BYTE:
            out.append(int(t[3:5], 16))
        elif TOKEN_TYPES[i] == TYPE_NORMAL:
            out.extend(t.replace(SPACE, " ").encode("utf-8"))
    return out.decode("utf-8", errors="replace")


# ---------------------------------------------------------- the drills


def letters(rng, n):
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(n))


def problem(family, x):
    """Returns the messages, answer and extra tags of a family's problem
    with parameters x."""
    if family == "add":
        a, b = x
        tags = ["carry"] if a % 10 + b % 10 >= 10 else []
        return [{"role": "user", "content": "%d+%d" % (a, b)}], str(a + b), tags
    if family == "sub":
        a, b = x
        tags = ["borrow"] if a % 10 < b % 10 else []
        return [{"role": "user", "content": "%d-%d" % (a, b)}], str(a - b), tags
    if family == "rev":
        tags = ["double"] if len(set(x)) < 3 else []
        return [{"role": "user", "content": "rev " + x}], x[::-1], tags
    if family == "max":
        opts = " ".join("%s%d" % (l, n) for l, n in zip("ABCD", x))
        return [{"role": "user", "content": "max " + opts}], "ABCD"[x.index(max(x))], []
    if family == "lookup":
        t, k = x
        messages = [{"role": "system", "content": "table %d" % (t + 1)}, {"role": "user", "content": k + "?"}]
        return messages, str(TABLES[t][k]), []
    raise ValueError(family)


def params(family, rng):
    """Draws the parameters of one problem of a family."""
    if family == "add":
        return rng.randrange(10), rng.randrange(10)
    if family == "sub":
        a, b = rng.randrange(10), rng.randrange(10)
        return a + b, b
    if family == "rev":
        return letters(rng, 3)
    if family == "max":
        return rng.sample(range(10), 4)
    if family == "lookup":
        return rng.randrange(len(TABLES)), rng.choice("abcdefghijklmnopqrstuvwxyz")
    raise ValueError(family)


def draw(family, rng):
    """Draws one problem of a family: (messages, answer, tags)."""
    return problem(family, params(family, rng))


def related(family, x):
    """Returns the parameters of a cluster of related problems built around
    x: a+b and b+a; a-b and a-(a-b); a word and its reversal; four numbers
    and the same numbers rotated to other labels; one key asked of every
    table."""
    if family == "add":
        return [x, (x[1], x[0])]
    if family == "sub":
        return [x, (x[0], x[0] - x[1])]
    if family == "rev":
        return [x, x[::-1]]
    if family == "max":
        return [x, x[1:] + x[:1]]
    if family == "lookup":
        return [(t, x[1]) for t in range(len(TABLES))]
    raise ValueError(family)


def key(messages):
    return "\n".join(m["role"] + ":" + m["content"] for m in messages)


def suite_cases(seed, per_family):
    """Returns the suite's cases: per family, per_family cases in clusters
    of related problems (see related), so the clustered statistics have
    something to cluster. A cluster whose problems repeat one another or an
    earlier case is drawn again."""
    rng = random.Random(seed)
    cases, seen = [], set()
    for family in FAMILIES:
        n, clusters = 0, 0
        while n < per_family:
            group = [problem(family, x) for x in related(family, params(family, rng))]
            group = group[: per_family - n]
            keys = {key(m) for m, _, _ in group}
            if len(keys) < len(group) or keys & seen:
                continue
            seen |= keys
            cluster = "%s-c%02d" % (family, clusters + 1)
            clusters += 1
            for messages, answer, tags in group:
                n += 1
                cases.append(
                    {
                        "id": "%s-%03d" % (family, n),
                        "family": family,
                        "cluster": cluster,
                        "messages": messages,
                        "answer": answer,
                        "tags": [family] + tags,
                    }
                )
    return cases


def write_suite(path, cases):
    """Writes the bundled suite: YAML with one flow-style case per line."""
    lines = [
        "# The drill suite: evalpin's trained test-bed model (docs/testbed.md) on",
        "# five drills with checkable answers. Generated by",
        "# internal/testbed/train/train.py (SUITE seed %d): do not edit by hand;" % SUITE["seed"],
        "# `make model` writes it again. rev and max cases are held out of training;",
        "# add, sub and lookup sample the tables the model learned (100, 100, 104).",
        "name: drill",
        'version: "1"',
        "description: The test bed's trained drill model on five drills (add, sub, rev, max, lookup), %d cases."
        % len(cases),
        "defaults:",
        "  max_tokens: %d" % SUITE["max_tokens"],
        "  temperature: 0",
        "  seed: 42",
        "cases:",
    ]
    for c in cases:
        msgs = ", ".join(
            "{role: %s, content: %s}" % (m["role"], json.dumps(m["content"])) for m in c["messages"]
        )
        if c["family"] == "max":
            scorer = '{kind: choice, value: %s, name: answer}' % c["answer"]
        else:
            scorer = "{kind: equals, value: %s, name: answer}" % json.dumps(c["answer"])
        lines.append(
            "  - {id: %s, cluster: %s, tags: [%s], messages: [%s], scorers: [%s]}"
            % (c["id"], c["cluster"], ", ".join(c["tags"]), msgs, scorer)
        )
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


# ---------------------------------------------------------- the model


class Llama(torch.nn.Module):
    """llama.cpp's llama graph (LLM_ARCH_LLAMA) in PyTorch: token embedding;
    per block RMS norm, attention with rotary position embedding, residual,
    RMS norm, SwiGLU feed-forward, residual; final RMS norm and output. No
    biases. Linear weights are [out, in], which is ggml's layout for a
    tensor with dims {in, out}, so they export as they are.

    Rotary embedding is llama.cpp's LLAMA_ROPE_TYPE_NORM, the type of the
    llama architecture: it rotates adjacent pairs (x[2i], x[2i+1]) of each
    head by pos * base^(-2i/head_dim). HF checkpoints rotate halves
    (x[i], x[i+d/2]) instead, which is why llama.cpp's converter permutes
    their Q and K rows; weights trained with this rotation need no
    permutation."""

    def __init__(self, vocab, m):
        super().__init__()
        self.m = m
        d, f = m["width"], m["ffn"]
        self.hd = d // m["heads"]
        self.tok = torch.nn.Embedding(vocab, d)
        self.blocks = torch.nn.ModuleList()
        for _ in range(m["layers"]):
            b = torch.nn.Module()
            b.attn_norm = torch.nn.Parameter(torch.ones(d))
            b.wq = torch.nn.Linear(d, d, bias=False)
            b.wk = torch.nn.Linear(d, d, bias=False)
            b.wv = torch.nn.Linear(d, d, bias=False)
            b.wo = torch.nn.Linear(d, d, bias=False)
            b.ffn_norm = torch.nn.Parameter(torch.ones(d))
            b.gate = torch.nn.Linear(d, f, bias=False)
            b.up = torch.nn.Linear(d, f, bias=False)
            b.down = torch.nn.Linear(f, d, bias=False)
            self.blocks.append(b)
        self.out_norm = torch.nn.Parameter(torch.ones(d))
        self.out = torch.nn.Linear(d, vocab, bias=False)
        inv = m["rope_base"] ** (-torch.arange(0, self.hd, 2, dtype=torch.float64) / self.hd)
        ang = torch.arange(m["context"], dtype=torch.float64)[:, None] * inv[None, :]
        self.register_buffer("cos", torch.cos(ang).float(), persistent=False)
        self.register_buffer("sin", torch.sin(ang).float(), persistent=False)

    def norm(self, x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.m["norm_eps"]) * w

    def rope(self, x):
        # x: [B, H, T, hd]; rotate adjacent pairs.
        T = x.shape[2]
        x0, x1 = x[..., 0::2], x[..., 1::2]
        c, s = self.cos[:T], self.sin[:T]
        return torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1).flatten(-2)

    def forward(self, ids):
        B, T = ids.shape
        H, hd = self.m["heads"], self.hd
        x = self.tok(ids)
        mask = torch.full((T, T), float("-inf")).triu(1)
        for b in self.blocks:
            h = self.norm(x, b.attn_norm)
            q = b.wq(h).view(B, T, H, hd).transpose(1, 2)
            k = b.wk(h).view(B, T, H, hd).transpose(1, 2)
            v = b.wv(h).view(B, T, H, hd).transpose(1, 2)
            q, k = self.rope(q), self.rope(k)
            att = (q @ k.transpose(-1, -2)) / math.sqrt(hd) + mask
            y = att.softmax(-1) @ v
            x = x + b.wo(y.transpose(1, 2).reshape(B, T, H * hd))
            h = self.norm(x, b.ffn_norm)
            x = x + b.down(F.silu(b.gate(h)) * b.up(h))
        return self.out(self.norm(x, self.out_norm))

    def tensors(self):
        """Returns the weights under their GGUF names, in file order."""
        t = {"token_embd.weight": self.tok.weight}
        for i, b in enumerate(self.blocks):
            p = "blk.%d." % i
            t[p + "attn_norm.weight"] = b.attn_norm
            t[p + "attn_q.weight"] = b.wq.weight
            t[p + "attn_k.weight"] = b.wk.weight
            t[p + "attn_v.weight"] = b.wv.weight
            t[p + "attn_output.weight"] = b.wo.weight
            t[p + "ffn_norm.weight"] = b.ffn_norm
            t[p + "ffn_gate.weight"] = b.gate.weight
            t[p + "ffn_up.weight"] = b.up.weight
            t[p + "ffn_down.weight"] = b.down.weight
        t["output_norm.weight"] = self.out_norm
        t["output.weight"] = self.out.weight
        return t


# ---------------------------------------------------------- training


def init(model):
    """Initializes the weights: matrices from N(0, init_std), except that the
    matrices writing into the residual stream (attn_output, ffn_down) start
    at zero, so each block starts as the identity; norms at one."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                p.normal_(0, TRAIN["init_std"])
        for b in model.blocks:
            b.wo.weight.zero_()
            b.down.weight.zero_()


def example(messages, answer):
    """Returns the token ids of a training sequence and the index of the
    first answer token: the rendered prompt, the answer, then EOS."""
    prompt = tokenize(render(messages))
    ans = tokenize(answer)[1:] + [EOS]
    return prompt + ans, len(prompt)


def batch_of(rng, held_out, n):
    seqs = []
    while len(seqs) < n:
        family = MIX[len(seqs) % len(MIX)]
        messages, answer, _ = draw(family, rng)
        if family not in FINITE and key(messages) in held_out:
            continue
        seqs.append(example(messages, answer))
    T = max(len(s) for s, _ in seqs)
    ids = torch.zeros((n, T), dtype=torch.long)
    tgt = torch.full((n, T), -100, dtype=torch.long)
    for i, (s, start) in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s)
        # position j predicts token j+1; learn the answer and its EOS only
        tgt[i, start - 1 : len(s) - 1] = torch.tensor(s[start:])
    return ids, tgt


def lr_at(step):
    t = TRAIN
    if step < t["warmup"]:
        return t["lr"] * (step + 1) / t["warmup"]
    p = (step - t["warmup"]) / max(1, t["steps"] - t["warmup"])
    return t["min_lr"] + 0.5 * (t["lr"] - t["min_lr"]) * (1 + math.cos(math.pi * p))


@torch.no_grad()
def greedy(model, messages, max_tokens):
    """Greedy decoding as Ollama does it at temperature 0 with
    repeat_penalty 1: the highest logit, until EOS or max_tokens. Returns
    the output text, the generated ids and the smallest margin between the
    chosen logit and the next best."""
    ids = tokenize(render(messages))
    out, margin = [], float("inf")
    for _ in range(max_tokens):
        logits = model(torch.tensor([ids + out]))[0, -1]
        top = torch.topk(logits, 2)
        margin = min(margin, float(top.values[0] - top.values[1]))
        nxt = int(top.indices[0])
        if nxt == EOS:
            break
        out.append(nxt)
        if TOKEN_TYPES[nxt] == TYPE_CONTROL:
            break
    return detokenize(out), out, margin


def accuracy(model, cases):
    per = {}
    for c in cases:
        text, _, _ = greedy(model, c["messages"], SUITE["max_tokens"])
        ok = text.strip() == c["answer"]
        n, k = per.get(c["family"], (0, 0))
        per[c["family"]] = (n + 1, k + ok)
    return {f: k / n for f, (n, k) in per.items()}


def train(model, held_out, valid, steps, log):
    torch.manual_seed(TRAIN["seed"])
    rng = random.Random(TRAIN["seed"])
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    other = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": TRAIN["weight_decay"]}, {"params": other, "weight_decay": 0.0}],
        lr=TRAIN["lr"],
        betas=(TRAIN["beta1"], TRAIN["beta2"]),
    )
    start = time.time()
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        ids, tgt = batch_of(rng, held_out, TRAIN["batch"])
        logits = model(ids)
        loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), tgt.view(-1), ignore_index=-100)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), TRAIN["grad_clip"])
        opt.step()
        if step % 100 == 0 or step == steps - 1:
            msg = "step %5d  loss %.4f  lr %.2e  %.0fs" % (step, loss.item(), lr_at(step), time.time() - start)
            if valid and step > 0 and (step % VALID["every"] == 0 or step == steps - 1):
                acc = accuracy(model, valid)
                msg += "  valid " + " ".join("%s %.2f" % (f, acc[f]) for f in FAMILIES)
            log(msg)
    return time.time() - start


# ---------------------------------------------------------- output files


def write_safetensors(path, tensors):
    """Writes F32 tensors in the safetensors format: an 8-byte little-endian
    header length, a JSON header of names, dtypes, shapes and byte offsets
    (sorted by name, as the format's writers do), then the data."""
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        a = tensors[name].detach().cpu().float().contiguous().numpy().astype("<f4")
        b = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, h in header.items():
        a, b = h["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[a:b], dtype="<f4").reshape(h["shape"]).copy())
    return out


def write_expected(path, model, cases):
    """Writes each case's greedy output, its generated token ids and its
    smallest logit margin, one JSON object a line, and returns the accuracy
    per family."""
    per = {}
    with open(path, "w") as f:
        for c in cases:
            text, ids, margin = greedy(model, c["messages"], SUITE["max_tokens"])
            ok = text.strip() == c["answer"]
            n, k = per.get(c["family"], (0, 0))
            per[c["family"]] = (n + 1, k + ok)
            rec = {
                "id": c["id"],
                "family": c["family"],
                "messages": c["messages"],
                "answer": c["answer"],
                "output": text,
                "tokens": ids,
                "margin": round(margin, 4),
                "pass": ok,
            }
            f.write(json.dumps(rec, separators=(",", ":")) + "\n")
    return {f: k / n for f, (n, k) in per.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="directory for weights, recipe and expected outputs")
    ap.add_argument("--suite", required=True, help="where to write the suite YAML")
    ap.add_argument("--steps", type=int, default=TRAIN["steps"], help="training steps")
    ap.add_argument("--reference-only", action="store_true", help="only recompute expected.jsonl")
    args = ap.parse_args()

    torch.set_num_threads(TRAIN["threads"])
    torch.use_deterministic_algorithms(True)
    os.makedirs(args.out, exist_ok=True)
    log = lambda s: print(s, file=sys.stderr, flush=True)

    cases = suite_cases(SUITE["seed"], SUITE["per_family"])
    held_out = {key(c["messages"]) for c in cases}
    valid = [c for c in suite_cases(VALID["seed"], VALID["per_family"]) if key(c["messages"]) not in held_out]
    held_out |= {key(c["messages"]) for c in valid}

    torch.manual_seed(TRAIN["seed"])
    model = Llama(len(TOKENS), MODEL)
    init(model)

    weights = os.path.join(args.out, "weights.safetensors")
    recipe_path = os.path.join(args.out, "recipe.json")
    if args.reference_only:
        state = read_safetensors(weights)
        with torch.no_grad():
            for name, p in model.tensors().items():
                p.copy_(state[name])
    else:
        write_suite(args.suite, cases)
        log("training %d steps on %d threads" % (args.steps, TRAIN["threads"]))
        secs = train(model, held_out, valid, args.steps, log)
        write_safetensors(weights, model.tensors())
        acc = write_expected(os.path.join(args.out, "expected.jsonl"), model, cases)
        recipe = {
            "model": MODEL,
            "train": dict(TRAIN, steps=args.steps),
            "suite": SUITE,
            "facts": dict(FACTS, drawn=TABLES),
            "valid": VALID,
            "families": FAMILIES,
            "template": TEMPLATE,
            "tokens": TOKENS,
            "token_types": TOKEN_TYPES,
            "special": {"unk": UNK, "bos": BOS, "eos": EOS},
            "measured": {
                "train_seconds": round(secs, 1),
                "suite_accuracy": {f: round(acc[f], 4) for f in FAMILIES},
                "torch": torch.__version__,
                "numpy": np.__version__,
                "python": platform.python_version(),
                "machine": platform.machine(),
                "blas": blas(),
            },
        }
        with open(recipe_path, "w") as f:
            json.dump(recipe, f, indent=1)
            f.write("\n")
        log("trained in %.0fs; suite accuracy %s" % (secs, json.dumps(recipe["measured"]["suite_accuracy"])))
        return
    acc = write_expected(os.path.join(args.out, "expected.jsonl"), model, cases)
    log("suite accuracy %s" % json.dumps({f: round(acc[f], 4) for f in FAMILIES}))


def blas():
    """Returns the BLAS library this process loaded (Debian switches
    libblas.so.3 between implementations), from /proc/self/maps."""
    try:
        with open("/proc/self/maps") as f:
            libs = {l.split()[-1] for l in f if "blas" in l}
        return " ".join(sorted(os.path.realpath(l) for l in libs)) or "none"
    except OSError:
        return "unknown"


if __name__ == "__main__":
    main()
