#!/usr/bin/env python3
"""The PyTorch twin of our training step, for `npm run bench` (bench/vs-torch.ts). Not part of the library.

The same `small` embedder (ViT → 2×2 merge → projector → decoder LM with RMSNorm, rotary positions, SwiGLU;
embeddings at the `<|emb|>` rows, L2-normalised), the same MuCo / single-turn InfoNCE loss with the
same-image logit mask, clipping and AdamW; and the backend benchmark's transformer block with Adam. Written
with the same ops as lib/model (explicit attention, GELU as x·σ(1.702x)) so both sides execute the same work.

Everything that depends on our tokenizer and dialogue renderer (token ids, attention masks, image patches in
merge order, where the image tokens go, which rows are embeddings) comes from the fixture folder the bench
writes, together with the weights and our loss and gradients.

Protocol: one JSON request per line on stdin, one JSON reply per line on stdout.
  {"op": "info"}                              versions and threads
  {"op": "check"}                             loss and gradients of every case against ours
  {"op": "peak"}                              GFLOP/s of a 1024² matmul
  {"op": "time", "case": name, "steps": n[, "threads": t]}
                                              one warm-up step, then n timed steps (ms) of that case
Usage: twin.py FIXTURE_DIR [--threads N]
"""
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

LN_EPS = 1e-6


def load_fixture(folder):
    with open(os.path.join(folder, "manifest.json")) as f:
        manifest = json.load(f)
    with open(os.path.join(folder, "data.bin"), "rb") as f:
        blob = f.read()
    arrays = {}
    for name, a in manifest["arrays"].items():
        dtype = np.float32 if a["dtype"] == "float32" else np.int32
        count = int(np.prod(a["shape"])) if a["shape"] else 1
        arr = np.frombuffer(blob, dtype=dtype, count=count, offset=a["offset"]).reshape(a["shape"])
        t = torch.from_numpy(arr.copy())
        arrays[name] = t.long() if dtype == np.int32 else t
    return arrays, manifest["meta"]


# ---------------------------------------------------------------------------------------------------------
# The embedder (lib/model), as functions of a parameter dict.


def layer_norm(x, g, b, eps):
    return F.layer_norm(x, (x.shape[-1],), g, b, eps)


def rms_norm(x, g, eps):
    return x * torch.rsqrt(x.square().mean(-1, keepdim=True) + eps) * g


def gelu(x):
    return x * torch.sigmoid(1.702 * x)


def linear(x, w, b=None):
    y = x @ w
    return y if b is None else y + b


def rope_tables(seq_len, head_dim, base):
    half = head_dim // 2
    t = torch.arange(seq_len, dtype=torch.float64)[:, None]
    inv = base ** (-(2 * torch.arange(half, dtype=torch.float64)) / head_dim)
    angle = t * inv[None, :]
    cos = torch.cat([angle.cos(), angle.cos()], -1).float()
    sin = torch.cat([angle.sin(), angle.sin()], -1).float()
    return cos, sin


def apply_rope(x, cos, sin):
    x1, x2 = x.chunk(2, -1)
    return x * cos + torch.cat([-x2, x1], -1) * sin


def attention(x, w, heads, mask, rope, prefix, bias):
    b, t, d = x.shape
    hd = d // heads

    def proj(name):
        y = linear(x, w[prefix + name], w[prefix + "b" + name[1]] if bias else None)
        return y.reshape(b, t, heads, hd).transpose(1, 2)

    q, k, v = proj("wq"), proj("wk"), proj("wv")
    scale = 1 / math.sqrt(hd)  # on q, as lib/model/layers.ts
    if rope is not None:
        cos, sin = rope
        q, k = apply_rope(q, cos * scale, sin * scale), apply_rope(k, cos, sin)
    else:
        q = q * scale
    scores = q @ k.transpose(-1, -2)
    if mask is not None:
        scores = scores + mask
    out = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, d)
    return linear(out, w[prefix + "wo"], w[prefix + "bo"] if bias else None)


def vision_forward(w, c, patches):
    bi = patches.shape[0]
    x = linear(patches, w["vision.patch.w"], w["vision.patch.b"]) + w["vision.pos"]
    for layer in range(c["visionLayers"]):
        p = f"vision.{layer}."
        h = layer_norm(x, w[p + "ln1.g"], w[p + "ln1.b"], LN_EPS)
        x = x + attention(h, w, c["visionHeads"], None, None, p, bias=True)
        h2 = layer_norm(x, w[p + "ln2.g"], w[p + "ln2.b"], LN_EPS)
        x = x + linear(gelu(linear(h2, w[p + "fc1.w"], w[p + "fc1.b"])), w[p + "fc2.w"], w[p + "fc2.b"])
    normed = layer_norm(x, w["merger.ln.g"], w["merger.ln.b"], LN_EPS)
    merged = normed.reshape(bi, -1, 4 * c["visionDim"])
    hidden = gelu(linear(merged, w["merger.fc1.w"], w["merger.fc1.b"]))
    return linear(hidden, w["merger.fc2.w"], w["merger.fc2.b"])


def embed_side(w, c, side):
    """L2-normalised embeddings at the side's `<|emb|>` rows, [N, D]."""
    ids = side["ids"]
    b, t = ids.shape
    d = c["dim"]
    x = w["lm.embed"][ids.reshape(-1)]
    if "patches" in side:
        image = vision_forward(w, c, side["patches"]).reshape(-1, d)
        x = torch.cat([x, image], 0)[side["splice"]]
    x = x.reshape(b, t, d)
    rope = rope_tables(t, d // c["heads"], c["ropeBase"])
    for layer in range(c["layers"]):
        p = f"lm.{layer}."
        h = rms_norm(x, w[p + "attnNorm"], c["normEps"])
        x = x + attention(h, w, c["heads"], side["mask"], rope, p, bias=False)
        h2 = rms_norm(x, w[p + "mlpNorm"], c["normEps"])
        x = x + linear(F.silu(linear(h2, w[p + "w1"])) * linear(h2, w[p + "w3"]), w[p + "w2"])
    x = rms_norm(x, w["lm.norm"], c["normEps"])
    e = x.reshape(b * t, d)[side["rows"]]
    return e * torch.rsqrt(e.square().sum(-1, keepdim=True) + 1e-12)


def info_nce(q, t, temperature, logit_mask):
    logits = (q @ t.T) / temperature
    if logit_mask is not None:
        logits = logits + logit_mask
    return -logits.log_softmax(-1).diagonal().mean()


# ---------------------------------------------------------------------------------------------------------
# The block (bench/block.ts).


def block_loss(w, x, target, mask, cfg):
    b, t, d, heads = cfg["batch"], cfg["seq"], cfg["dim"], cfg["heads"]
    hd = d // heads

    def split(y):
        return y.reshape(b, t, heads, hd).transpose(1, 2)

    qkv = F.layer_norm(x, (d,), w["ln1"], None, 1e-5) @ w["wqkv"]
    q, k, v = (split(y) for y in qkv.split(d, -1))
    scores = (q @ k.transpose(-1, -2)) * (1 / math.sqrt(hd)) + mask
    merged = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b * t, d)
    x1 = x + merged @ w["wo"]
    u = F.layer_norm(x1, (d,), w["ln2"], None, 1e-5) @ w["w1"] + w["b1"]
    x2 = x1 + (gelu(u) @ w["w2"] + w["b2"])
    return (x2 - target).square().mean()


# ---------------------------------------------------------------------------------------------------------


class Case:
    """One case's parameters, optimizer and loss closure (fresh from the fixture's weights)."""

    def __init__(self, name, arrays, meta):
        self.name = name
        if name == "block":
            prefix = "block/param/"
            self.params = {k[len(prefix):]: v.clone().requires_grad_() for k, v in arrays.items() if k.startswith(prefix)}
            x, target, mask, cfg = arrays["block/x"], arrays["block/target"], arrays["block/mask"], meta["block"]["config"]
            self.loss = lambda: block_loss(self.params, x, target, mask, cfg)
            # tf.train.adam's defaults: ε 1e-7.
            self.opt = torch.optim.Adam(self.params.values(), lr=meta["block"]["lr"], eps=1e-7)
            self.clip = None
            return
        c = meta["config"]
        self.params = {k[len("param/"):]: v.clone().requires_grad_() for k, v in arrays.items() if k.startswith("param/")}
        sides = {}
        for side in ("query", "target"):
            prefix = f"{name}/{side}/"
            sides[side] = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
        temperature = meta[name]["temperature"]
        logit_mask = arrays.get(f"{name}/logitMask")
        self.loss = lambda: info_nce(embed_side(self.params, c, sides["query"]), embed_side(self.params, c, sides["target"]), temperature, logit_mask)
        train = meta["train"]
        adamw = train["adamw"]
        decay = [p for p in self.params.values() if p.dim() >= 2]
        plain = [p for p in self.params.values() if p.dim() < 2]
        self.opt = torch.optim.AdamW(
            [{"params": decay, "weight_decay": adamw["weightDecay"]}, {"params": plain, "weight_decay": 0.0}],
            lr=train["lr"], betas=(adamw["beta1"], adamw["beta2"]), eps=adamw["eps"])
        self.clip = train["clip"]

    def step(self):
        self.opt.zero_grad(set_to_none=True)
        loss = self.loss()
        loss.backward()
        if self.clip is not None:
            torch.nn.utils.clip_grad_norm_(self.params.values(), self.clip)
        self.opt.step()
        return loss


def check(arrays, meta, names):
    out = {}
    for name in names:
        case = Case(name, arrays, meta)
        loss = case.loss()
        loss.backward()
        ours = meta[name]["loss"]
        worst, worst_name = 0.0, ""
        # Relative to the parameter's own largest gradient, floored at 1e-4 of the largest anywhere: some
        # gradients are zero in exact arithmetic (a key bias shifts every score of a row equally) and both
        # sides hold rounding noise there.
        floor = 1e-4 * max(float(arrays[f"{name}/grad/{k}"].abs().max()) for k in case.params)
        for pname, p in case.params.items():
            ref = arrays[f"{name}/grad/{pname}"]
            scale = max(float(ref.abs().max()), floor, 1e-30)
            err = float((p.grad - ref).abs().max()) / scale if p.grad is not None else float(ref.abs().max() > 0)
            if err > worst:
                worst, worst_name = err, pname
        out[name] = {"loss": float(loss), "ours": ours, "lossRelErr": abs(float(loss) - ours) / max(abs(ours), 1e-12),
                     "gradRelErr": worst, "worst": worst_name}
    return {"cases": out}


def rss_mb():
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20)


def peak(n=1024, reps=20):
    g = torch.Generator().manual_seed(2)
    a, b = torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)
    for _ in range(2):
        a @ b
    ms = []
    for _ in range(reps):
        t0 = time.perf_counter()
        a @ b
        ms.append((time.perf_counter() - t0) * 1e3)
    med = float(np.median(ms))
    return {"gflops": 2 * n**3 / (med * 1e6), "ms": med}


def main():
    folder = sys.argv[1]
    threads = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else 1
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    arrays, meta = load_fixture(folder)
    names = ["block", "single-turn", "muco-k7"]
    cases = {}
    for line in sys.stdin:
        req = json.loads(line)
        try:
            op = req["op"]
            if op == "info":
                blas = "BLAS_INFO=" + ("openblas" if "openblas" in torch.__config__.show().lower() else "generic (libblas.so.3 alternative)")
                reply = {"torch": torch.__version__, "threads": torch.get_num_threads(), "blas": blas}
            elif op == "check":
                reply = check(arrays, meta, names)
            elif op == "peak":
                reply = peak()
            elif op == "time":
                torch.set_num_threads(int(req.get("threads", threads)))
                name = req["case"]
                if name not in cases:
                    cases[name] = Case(name, arrays, meta)
                case = cases[name]
                case.step()
                ms = []
                for _ in range(int(req["steps"])):
                    t0 = time.perf_counter()
                    case.step()
                    ms.append((time.perf_counter() - t0) * 1e3)
                reply = {"ms": ms, "rssMB": rss_mb()}
            else:
                reply = {"error": f"unknown op {op!r}"}
        except Exception as err:  # the bench reports it and stops
            reply = {"error": f"{type(err).__name__}: {err}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
