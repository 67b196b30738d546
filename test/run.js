// `npm test`: type-check, lint the protos, check gen/ is fresh, then every test file.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

function run(title, command, args) {
  console.log(`\n> ${title}`);
  const result = spawnSync(command, args, { stdio: "inherit" });
  if (result.status !== 0) {
    console.error(`\n${title} failed`);
    process.exit(result.status ?? 1);
  }
}

function testFiles(dir) {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return testFiles(path);
    return path.endsWith(".test.ts") ? [path] : [];
  });
}

run("type-check (tsc --strict)", "npx", ["tsc", "-p", "tsconfig.json"]);
run("buf lint", "npx", ["buf", "lint"]);
const fresh = mkdtempSync(join(tmpdir(), "ims-gen-"));
try {
  run("generate into a temporary folder", "npx", ["buf", "generate", "--output", fresh]);
  run("gen/ is up to date with proto/ (else run `npm run generate`)", "diff", ["-r", "gen", join(fresh, "gen")]);
} finally {
  rmSync(fresh, { recursive: true, force: true });
}
const files = testFiles("test").sort();
// --test-force-exit: a failed test that leaves a server open must not hang the run.
run(`tests (${files.length} files)`, process.execPath, [
  "--import", "tsx", "--test", "--test-concurrency=2", "--test-force-exit", ...files,
]);
