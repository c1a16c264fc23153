// tiktoken_encode.js: encode throughput of the npm package tiktoken (WASM build of the Rust
// core) on one file, best of RUNS, in MB/s; also writes the encoding's rank file for pyramask.
// Usage: node tiktoken_encode.js ENCODING FILE [RUNS]      (ENCODING: cl100k_base, o200k_base)
//        node tiktoken_encode.js --ranks ENCODING OUT.tiktoken
//        node tiktoken_encode.js --ids ENCODING FILE     (prints the ids, space-separated)
"use strict";
const fs = require("fs");
const { Tiktoken } = require("tiktoken");
const args = process.argv.slice(2);
if (args[0] === "--ranks") {
  const spec = require(`tiktoken/encoders/${args[1]}.json`);
  const fields = spec.bpe_ranks.split(" ");
  const lines = [];
  for (let i = 0, rank = 0; i < fields.length; i++) {
    if (fields[i] === "!") { rank = parseInt(fields[++i], 10); continue; }
    lines.push(`${fields[i]} ${rank++}\n`);
  }
  fs.writeFileSync(args[2], lines.join(""));
  process.exit(0);
}
if (args[0] === "--ids") {
  const spec = require(`tiktoken/encoders/${args[1]}.json`);
  const enc = new Tiktoken(spec.bpe_ranks, spec.special_tokens, spec.pat_str);
  process.stdout.write(Array.from(enc.encode_ordinary(fs.readFileSync(args[2], "utf8"))).join(" ") + "\n");
  enc.free();
  process.exit(0);
}
const [name, file, runs = "3"] = args;
const spec = require(`tiktoken/encoders/${name}.json`);
const enc = new Tiktoken(spec.bpe_ranks, spec.special_tokens, spec.pat_str);
const text = fs.readFileSync(file, "utf8");
const bytes = Buffer.byteLength(text);
let best = Infinity, n = 0;
for (let r = 0; r < parseInt(runs, 10); r++) {
  const t0 = process.hrtime.bigint();
  n = enc.encode_ordinary(text).length;
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (s < best) best = s;
}
enc.free();
console.log(`tiktoken ${name}: ${n} tokens, ${(bytes / 1e6 / best).toFixed(2)} MB/s`);
