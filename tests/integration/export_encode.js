// export_encode.js: encodes a file with a pyramid level exported for another tokenizer and
// prints the ids space-separated on one line, as `pyramask vocab encode` does.
// Usage: node export_encode.js hf TOKENIZER.json FILE
//        node export_encode.js tiktoken RANKS PAT_STR_FILE FILE
// The packages come from tests/bench (NODE_PATH=tests/bench/node_modules).
"use strict";
const fs = require("fs");
const args = process.argv.slice(2);
let ids;
if (args[0] === "hf") {
  const { Tokenizer } = require("tokenizers");
  const tk = Tokenizer.fromFile(args[1]);
  const text = fs.readFileSync(args[2], "utf8");
  tk.encode(text).then((enc) => {
    process.stdout.write(enc.getIds().join(" ") + "\n");
  }, (e) => { console.error(`export_encode: ${e}`); process.exit(1); });
} else if (args[0] === "tiktoken") {
  const { Tiktoken } = require("tiktoken");
  const pat = fs.readFileSync(args[2], "utf8").replace(/\n$/, "");
  const enc = new Tiktoken(fs.readFileSync(args[1], "utf8"), {}, pat);
  ids = enc.encode_ordinary(fs.readFileSync(args[3], "utf8"));
  enc.free();
  process.stdout.write(Array.from(ids).join(" ") + "\n");
} else {
  console.error("usage: export_encode.js hf TOKENIZER.json FILE | tiktoken RANKS PAT_FILE FILE");
  process.exit(2);
}
