// Conformance oracle: tokenizes strings with @lenml/tokenizers (a JavaScript
// port of Hugging Face transformers.js tokenizers).
//
// Usage: node oracle.cjs NODE_MODULES_DIR < request.json > response.json
// request:  {"tokenizer": "/path/tokenizer.json", "strings": ["…", …]}
// response: {"ids": [[…], …], "nfc": [true, …]}  (nfc: string is in NFC)
"use strict";
const fs = require("fs");
const path = require("path");

const modDir = process.argv[2];
const { TokenizerLoader } = require(path.join(modDir, "@lenml", "tokenizers"));
const req = JSON.parse(fs.readFileSync(0, "utf8"));
const tokenizerJSON = JSON.parse(fs.readFileSync(req.tokenizer, "utf8"));
const cfgPath = path.join(path.dirname(req.tokenizer), "tokenizer_config.json");
const tokenizerConfig = fs.existsSync(cfgPath) ? JSON.parse(fs.readFileSync(cfgPath, "utf8")) : {};
const tok = TokenizerLoader.fromPreTrained({ tokenizerJSON, tokenizerConfig });
const ids = req.strings.map((s) => Array.from(tok.encode(s, { add_special_tokens: false })));
const nfc = req.strings.map((s) => s.normalize("NFC") === s);
process.stdout.write(JSON.stringify({ ids, nfc }));
