// llama.cpp tokenizer oracle through node-llama-cpp's prebuilt addon
// (npm @node-llama-cpp/linux-x64), loading only the GGUF's vocabulary.
//
// Usage: node llamacpp_oracle.cjs ADDON_DIR < request.json > response.json
// request:  {"model": "/path/model.gguf", "strings": ["…"], "decode": [[ids…], …]}
// response: after a line "@@ORACLE-JSON@@": {"special": [[ids…], …], "plain": [[ids…], …], "text": ["…", …]}
// special: tokenized parsing special-token text; plain: without; text:
// llama_detokenize of each decode list (remove_special and unparse_special off).
"use strict";
const fs = require("fs");
const path = require("path");

async function main() {
  const addon = require(path.join(process.argv[2], "llama-addon.node"));
  const req = JSON.parse(fs.readFileSync(0, "utf8"));
  const model = new addon.AddonModel(req.model, { vocabOnly: true });
  if (!(await model.init())) throw new Error("llama.cpp could not load " + req.model);
  const special = req.strings.map((s) => Array.from(model.tokenize(s, true)));
  const plain = req.strings.map((s) => Array.from(model.tokenize(s, false)));
  const text = (req.decode || []).map((t) => model.detokenize(Uint32Array.from(t), false));
  // llama.cpp logs to stdout too, so the answer follows a marker line.
  process.stdout.write("\n@@ORACLE-JSON@@\n" + JSON.stringify({ special, plain, text }) + "\n");
  model.dispose();
}
main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + "\n");
  process.exit(1);
});
