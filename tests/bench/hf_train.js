// hf_train.js: trains HuggingFace tokenizers' byte-level BPE (its native trainer, default
// vocabulary 30000, GPT-2 pre-tokenizer) on one file; threads from RAYON_NUM_THREADS.
// Usage: node hf_train.js CORPUS OUT.json
"use strict";
const { Tokenizer, BPE, byteLevelPreTokenizer } = require("tokenizers");
const [corpus, out] = process.argv.slice(2);
const tk = new Tokenizer(BPE.empty());
tk.setPreTokenizer(byteLevelPreTokenizer(false, true));
tk.train([corpus]);
tk.save(out);
console.log(`hf: ${tk.getVocabSize()} tokens`);
